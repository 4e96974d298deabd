"""From a video file to tracked, validated, smoothed keypoints and an annotated video.

Stages, each a library piece that takes and returns `PoseFrame`s:
  1. inference: video mode (tracking) over the frames; with several workers the video is cut
     into chunks, each decoded and estimated by its own process and engine, starting
     `overlap_ms` early so the engine's own tracking is warm at the chunk's first frame;
  2. tracking (`localpose.track`) over all frames in order, so ids cross chunk borders;
  3. validation flags (`localpose.validate`) on the raw poses;
  4. gap filling and offline smoothing (`localpose.smooth`);
  5. outputs (`localpose.video.outputs`): annotated MP4 (rendered in parallel segments and
     joined without re-encoding), JSON Lines, CSV, OpenPose, COCO, angles.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localpose.cluster import RayOptions, RayPool, progress_queue
from localpose.errors import InvalidOptionError, InvalidVideoError
from localpose.estimate import VideoPoseEstimator
from localpose.models import ModelBundle, load_model
from localpose.options import EstimatorOptions, ModelOptions, default_workers
from localpose.result import PoseFrame
from localpose.smooth import smooth_tracks
from localpose.track import PoseTracker, TrackerOptions
from localpose.validate import PoseValidator
from localpose.video.io import DecodeReport, frame_range, frame_timestamps, probe, read_frames
from localpose.video.options import (
    MP4_PRESETS,
    OUTPUT_KINDS,
    ProgressCallback,
    VideoOptions,
    VideoProgress,
)

__all__ = [
    "MP4_PRESETS",
    "OUTPUT_KINDS",
    "VideoOptions",
    "VideoPool",
    "VideoProgress",
    "VideoReport",
    "default_workers",
    "estimate_video",
    "process_video",
]

log = logging.getLogger(__name__)


@dataclass
class VideoReport:
    """What `process_video` produced: frame count, output files, and what went wrong."""

    source: Path
    frames: int
    frames_expected: int
    outputs: dict[str, Path]
    errors: list[str]
    poses: list[PoseFrame]
    """Final poses: tracked, flagged, gaps filled, smoothed (one `PoseFrame` per frame)."""
    raw_poses: list[PoseFrame]
    """Tracked and flagged poses before gap filling and smoothing."""
    seconds: dict[str, float]
    cancelled: bool = False
    workers: int = 1
    """Worker processes used (fewer than asked for on short videos: at least 30 frames each)."""

    @property
    def track_ids(self) -> list[int]:
        return sorted({int(t) for f in self.poses for t in f.track_id if t >= 0})

    def to_dict(self) -> dict[str, object]:
        return {
            "source": str(self.source),
            "frames": self.frames,
            "frames_expected": self.frames_expected,
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "errors": self.errors,
            "track_ids": self.track_ids,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "cancelled": self.cancelled,
            "workers": self.workers,
        }


def _rescale(frame: PoseFrame, size: tuple[int, int]) -> PoseFrame:
    """A pose found on a shrunk frame, in the pixels of the full-size frame."""
    if frame.image_size == size:
        return frame
    scale = np.array([size[0] / frame.width, size[1] / frame.height])
    return frame.replace(image_size=size, xy=frame.xy * scale)  # z is relative to the width: unchanged


def _estimate_range(
    path: Path,
    estimator: VideoPoseEstimator,
    size: tuple[int, int],
    start_ms: float | None,
    keep_from_ms: float | None,
    stop_ms: float | None,
    report: DecodeReport,
    max_side: int | None,
    tick: Callable[[], bool],
    decode_threads: int | None = None,
) -> Iterator[PoseFrame]:
    """Raw poses of the frames in [keep_from_ms, stop_ms), warming up from `start_ms`."""
    for rgb, t_ms in read_frames(path, start_ms, stop_ms, report, max_side, decode_threads):
        frame = _rescale(estimator.estimate(rgb, t_ms), size)
        if keep_from_ms is None or t_ms >= keep_from_ms - 1e-3:
            if not tick():
                return
            yield frame


def estimate_video(
    path: str | Path,
    estimator_options: EstimatorOptions | None = None,
    model: ModelBundle | ModelOptions | None = None,
    tracking: TrackerOptions | None = None,
) -> Iterator[PoseFrame]:
    """Tracked raw poses of every frame of a video, in order, as they are estimated (one core).

    Frames that cannot be decoded are skipped and logged as warnings.
    """
    path = Path(path)
    info = probe(path)
    tracker = PoseTracker(tracking or TrackerOptions())
    report = DecodeReport()
    with VideoPoseEstimator(estimator_options, model) as estimator:
        size = (info.width, info.height)
        frames = _estimate_range(path, estimator, size, None, None, None, report, None, lambda: True)
        for frame in frames:
            yield tracker.update(frame)
    for message in report.errors:
        log.warning("%s: %s", path, message)


# --- worker processes -------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    path: Path
    model: ModelBundle
    options: EstimatorOptions
    size: tuple[int, int]
    start_ms: float | None
    keep_from_ms: float | None
    stop_ms: float | None
    max_side: int | None


@dataclass(frozen=True)
class _ChunkResult:
    frames: list[PoseFrame]
    errors: list[str]


class _WorkerChannel:
    """Progress and cancel signals shared with worker processes (set up by the pool initializer)."""

    progress: multiprocessing.queues.Queue | None = None
    cancel: threading.Event | None = None


def _init_worker(progress, cancel) -> None:
    import cv2

    from localpose.lifeline import watch_parent

    watch_parent()  # a killed server (or script) leaves no video worker behind
    _WorkerChannel.progress, _WorkerChannel.cancel = progress, cancel
    # Each worker is one core's worth of work: OpenCV's own thread pool would only compete.
    cv2.setNumThreads(1)


def _worker_tick(counter: list[int]) -> bool:
    counter[0] += 1
    if counter[0] % 10 == 0 and _WorkerChannel.progress is not None:
        _WorkerChannel.progress.put(10)
    return not (_WorkerChannel.cancel is not None and _WorkerChannel.cancel.is_set())


def _run_chunk(chunk: _Chunk) -> _ChunkResult:
    report = DecodeReport()
    counter = [0]
    with VideoPoseEstimator(chunk.options, chunk.model) as estimator:
        frames = list(
            _estimate_range(
                chunk.path,
                estimator,
                chunk.size,
                chunk.start_ms,
                chunk.keep_from_ms,
                chunk.stop_ms,
                report,
                chunk.max_side,
                lambda: _worker_tick(counter),
                decode_threads=1,  # workers share the cores: no decoder threads on top
            )
        )
    if _WorkerChannel.progress is not None:
        _WorkerChannel.progress.put(counter[0] % 10)
    return _ChunkResult(frames, report.errors)


_ChunkTimes = tuple[float | None, float | None, float | None]


def _chunks(stamps: list[float], workers: int, overlap_ms: float) -> list[_ChunkTimes]:
    """(start_ms, keep_from_ms, stop_ms) of `workers` chunks of equal work (warm-up frames included)."""
    n = len(stamps)
    warmup = int(np.searchsorted(stamps, overlap_ms + stamps[0]))  # frames in one overlap
    share = (n + warmup * (workers - 1)) / workers
    bounds = [0] + [round(share * (k + 1) - warmup * k) for k in range(workers - 1)] + [n]
    out = []
    for a, b in itertools.pairwise(bounds):
        if a >= b:
            continue
        keep, stop = frame_range(stamps, a, b)
        start = None if keep is None else max(0.0, keep - overlap_ms)
        out.append((start, keep, stop))
    return out


class _Progress:
    """Turns frame counts into `VideoProgress` callbacks (rate-limited to ~4 per second)."""

    def __init__(self, total: int, callback: ProgressCallback | None, stage: str) -> None:
        self.total, self.callback, self.stage = total, callback, stage
        self.done, self.started, self._last = 0, time.perf_counter(), 0.0

    def add(self, count: int, force: bool = False) -> None:
        self.done = min(self.done + count, self.total)  # a chunk re-run after a lost worker counts once
        now = time.perf_counter()
        if self.callback is None or (not force and now - self._last < 0.25):
            return
        self._last = now
        elapsed = max(now - self.started, 1e-6)
        fps = self.done / elapsed
        eta = (self.total - self.done) / fps if fps > 0 and self.total else None
        self.callback(VideoProgress(self.stage, self.done, self.total, fps, eta))


def _infer_parallel(
    path: Path,
    model: ModelBundle,
    options: VideoOptions,
    size: tuple[int, int],
    chunks: list[_ChunkTimes],
    progress: _Progress,
    cancel: threading.Event | None,
    pool: Executor,
    channel: tuple,
) -> tuple[list[PoseFrame], list[str]]:
    futures: list[Future] = [
        pool.submit(
            _run_chunk,
            _Chunk(path, model, options.estimator, size, start, keep, stop, options.inference_max_side),
        )
        for start, keep, stop in chunks
    ]
    progress_queue, worker_cancel = channel
    while not all(f.done() for f in futures):
        if cancel is not None and cancel.is_set() and worker_cancel is not None:
            worker_cancel.set()
        with contextlib.suppress(queue.Empty):
            progress.add(progress_queue.get(timeout=0.1))
    with contextlib.suppress(queue.Empty):
        while True:  # counts sent just before the last chunk finished
            progress.add(progress_queue.get_nowait())
    frames, errors = [], []
    for future in futures:
        result = future.result()
        frames.extend(result.frames)
        errors.extend(result.errors)
    return _in_time_order(frames), errors


def _in_time_order(frames: list[PoseFrame]) -> list[PoseFrame]:
    """Frames sorted by time, each time once (chunks meet exactly at their borders)."""
    seen: dict[float, PoseFrame] = {}
    for frame in frames:
        seen.setdefault(round(frame.timestamp_ms, 3), frame)
    return [seen[t] for t in sorted(seen)]


def _infer_here(
    path: Path,
    model: ModelBundle,
    options: VideoOptions,
    size: tuple[int, int],
    progress: _Progress,
    cancel: threading.Event | None,
) -> tuple[list[PoseFrame], list[str]]:
    report = DecodeReport()

    def tick() -> bool:
        progress.add(1)
        return not (cancel is not None and cancel.is_set())

    with VideoPoseEstimator(options.estimator, model) as estimator:
        frames = list(
            _estimate_range(path, estimator, size, None, None, None, report, options.inference_max_side, tick)
        )
    return frames, report.errors


def _post_process(raw: list[PoseFrame], options: VideoOptions) -> tuple[list[PoseFrame], list[PoseFrame]]:
    """Track, flag, then fill gaps and smooth: (raw tracked and flagged, final)."""
    tracker, validator = PoseTracker(options.tracking), PoseValidator(options.validation)
    tracked = [validator.update(tracker.update(frame)) for frame in raw]
    return tracked, smooth_tracks(tracked, options.smoothing)


class VideoPool:
    """Worker processes for videos, started once and used for many (`process_video(pool=...)`).

    Local processes by default; with `ray`, Ray actors on a cluster (`localpose.cluster`),
    which report their progress through a Ray queue. A video is cut into as many chunks as
    the pool has workers, so a Ray pool of N actors gives the outputs of `workers=N` here.
    """

    def __init__(self, workers: int, ray: RayOptions | None = None) -> None:
        """`workers` local processes, or with `ray` one actor per CPU (or `RayOptions.actors`)."""
        self.executor: Executor
        if ray is None:
            context = multiprocessing.get_context("spawn")
            self.channel: tuple = (context.Queue(), context.Event())
            self.executor = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker, initargs=self.channel
            )
            self.workers = workers
        else:

            def channel() -> tuple:
                self.channel = (progress_queue(), None)  # cancelling a Ray run stops its actors
                return self.channel

            self.executor = RayPool(ray, initializer=_init_worker, initargs=channel)
            self.workers = self.executor.workers

    def close(self, cancel: bool = False) -> None:
        """Stop the workers (at once, dropping queued work, when `cancel`)."""
        self.executor.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> VideoPool:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(cancel=exc_type is not None)


def process_video(
    source: str | Path,
    out_dir: str | Path | None,
    options: VideoOptions | None = None,
    model: ModelBundle | ModelOptions | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    pool: VideoPool | None = None,
) -> VideoReport:
    """Estimate, track, validate and smooth every frame of a video and write the chosen outputs.

    With `pool`, its workers are used (and `options.workers` is not); else processes are
    started for this video and stopped after it.

    Raises `InvalidVideoError` when the file is not a video or no frame decodes; partial damage
    is reported in `VideoReport.errors` while every decodable frame is processed. With no
    outputs (``options.outputs == ()``, `out_dir` may be None) only the poses are returned.
    """
    from localpose.video.outputs import write_outputs

    options = options or VideoOptions()
    if out_dir is None and options.outputs:
        raise InvalidOptionError("process_video needs an output folder to write its outputs")
    if "c3d" in options.outputs:
        from localpose.export.c3d import check_available

        check_available()  # before decoding a frame, not after
    source, out_dir = Path(source), Path(out_dir or ".")
    bundle = model if isinstance(model, ModelBundle) else load_model(model)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    stamps = frame_timestamps(source)
    info = probe(source, stamps)
    if not stamps:
        raise InvalidVideoError(f"{source}: holds no video frames")
    size = (info.width, info.height)
    own_pool = pool is None
    workers = min(options.workers if pool is None else pool.workers, max(1, len(stamps) // 30))
    if pool is None and workers > 1:
        pool = VideoPool(workers)
    executor = None if pool is None else pool.executor
    try:
        progress = _Progress(len(stamps), on_progress, "estimate")
        if pool is not None:
            chunks = _chunks(stamps, workers, options.overlap_ms)
            raw, errors = _infer_parallel(
                source, bundle, options, size, chunks, progress, cancel, pool.executor, pool.channel
            )
        else:
            raw, errors = _infer_here(source, bundle, options, size, progress, cancel)
        progress.add(0, force=True)
        seconds["estimate"] = time.perf_counter() - started
        if not raw:
            raise InvalidVideoError(f"{source}: no frame could be decoded ({'; '.join(errors[:3])})")
        if info.declared_frames > len(raw):
            errors.append(
                f"the file announces {info.declared_frames} frames but only {len(raw)} could be read "
                "(cut short or damaged); the frames read were processed"
            )
        cancelled = cancel is not None and cancel.is_set()
        mark = time.perf_counter()
        tracked, final = _post_process(raw, options)
        seconds["track_smooth"] = time.perf_counter() - mark
        outputs: dict[str, Path] = {}
        if not cancelled and options.outputs:
            mark = time.perf_counter()
            outputs = write_outputs(
                source, out_dir, info, tracked, final, options, executor, workers, on_progress, cancel
            )
            seconds["write"] = time.perf_counter() - mark
    finally:
        if own_pool and pool is not None:
            pool.close(cancel=True)
    seconds["total"] = time.perf_counter() - started
    return VideoReport(
        source=source,
        frames=len(final),
        frames_expected=len(stamps),
        outputs=outputs,
        errors=errors,
        poses=final,
        raw_poses=tracked,
        seconds=seconds,
        cancelled=cancel is not None and cancel.is_set(),  # also when cancelled while writing
        workers=workers,
    )
