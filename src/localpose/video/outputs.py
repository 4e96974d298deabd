"""Files written for a processed video: keypoints in every format, and the annotated MP4.

The annotated video is drawn from the final poses on a second decode of the source. With
worker processes it is rendered in segments in parallel, one H.264 file each (no B-frames,
so decode and presentation order agree), then the segments' packets are joined into one
MP4 without re-encoding.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from localpose.draw import DrawStyle, draw_poses, draw_poses_i420
from localpose.export.openpose import OPENPOSE_FOLDER
from localpose.manifest import atomic_path
from localpose.result import PoseFrame
from localpose.video.io import (
    DecodeReport,
    VideoInfo,
    VideoWriter,
    decoded_to_rgb,
    frame_range,
    i420_planes,
    read_decoded,
)

if TYPE_CHECKING:
    from localpose.analysis.motion import MotionOptions
    from localpose.video.options import ProgressCallback, VideoOptions

__all__ = ["output_paths", "render_video", "write_outputs"]

_CRF = 23


def output_paths(source: Path, out_dir: Path) -> dict[str, Path]:
    """Where each output kind of `source` goes in `out_dir`."""
    stem = source.stem
    return {
        "mp4": out_dir / f"{stem}.pose.mp4",
        "jsonl": out_dir / f"{stem}.jsonl",
        "csv": out_dir / f"{stem}.csv",
        "raw": out_dir / f"{stem}.raw.jsonl",
        "openpose": out_dir / f"{stem}_{OPENPOSE_FOLDER}",
        "coco": out_dir / f"{stem}.coco.json",
        "angles": out_dir / f"{stem}.angles.csv",
        "trc": out_dir / f"{stem}.trc",
        "mot": out_dir / f"{stem}.mot",
        "c3d": out_dir / f"{stem}.c3d",
    }


def _write_jsonl(path: Path, frames: Sequence[PoseFrame], source: str, angles: bool) -> None:
    from localpose.export import frame_to_dict

    with path.open("w") as stream:
        for k, frame in enumerate(frames):
            record = frame_to_dict(frame, source, frame_index=k)
            if angles:
                from localpose.analysis.angles import add_angles_to_document

                add_angles_to_document(record, frame)
            stream.write(json.dumps(record, separators=(",", ":")) + "\n")


def _write_openpose(folder: Path, frames: Sequence[PoseFrame], stem: str) -> None:
    from localpose.export.openpose import openpose_dict

    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(frames):
        path = folder / f"{stem}_{k:012d}_keypoints.json"
        path.write_text(json.dumps(openpose_dict(frame), separators=(",", ":")))


def _write_biomechanics(kind: str, path: Path, final: list[PoseFrame], motion: MotionOptions) -> None:
    """TRC / C3D markers (metres, root motion) or MOT angles of the longest track."""
    from localpose.analysis.motion import angle_table, body_motion, marker_trajectories
    from localpose.analysis.series import PersonSeries

    series = PersonSeries.from_frames(final)
    if kind == "mot":
        from localpose.export.mot import write_mot

        names, values = angle_table(series)
        write_mot(path, names, series.timestamps_ms / 1000.0, values)
        return
    markers = marker_trajectories(body_motion(series, motion))
    if kind == "trc":
        from localpose.export.trc import write_trc

        write_trc(path, markers)
    else:
        from localpose.export.c3d import write_c3d

        write_c3d(path, markers)


def _write_keypoints(
    kind: str,
    final_path: Path,
    source: Path,
    tracked: list,
    final: list,
    angles: bool = False,
    motion: MotionOptions | None = None,
) -> None:
    with atomic_path(final_path) as path:  # renamed into place when complete
        _write_kind(kind, path, source, tracked, final, angles, motion)


def _write_kind(
    kind: str,
    path: Path,
    source: Path,
    tracked: list,
    final: list,
    angles: bool,
    motion: MotionOptions | None,
) -> None:
    from localpose.export import coco_results, write_csv

    name = source.name
    if kind in ("trc", "mot", "c3d"):
        from localpose.analysis.motion import MotionOptions

        _write_biomechanics(kind, path, final, motion or MotionOptions())
        return
    if kind == "jsonl":
        _write_jsonl(path, final, name, angles=angles)
    elif kind == "raw":
        _write_jsonl(path, tracked, name, angles=False)
    elif kind == "csv":
        with path.open("w", newline="") as stream:
            write_csv(stream, final, name)
    elif kind == "coco":
        path.write_text(json.dumps(coco_results(enumerate(final))))
    elif kind == "openpose":
        _write_openpose(path, final, source.stem)
    elif kind == "angles":
        from localpose.analysis.angles import write_angles_csv

        with path.open("w", newline="") as stream:
            write_angles_csv(stream, final, source=name)


@dataclass(frozen=True)
class _Segment:
    source: Path
    dest: Path
    poses: list[PoseFrame]
    start_ms: float | None
    stop_ms: float | None
    fps: float
    labels: bool
    preset: str
    threads: int | None = None
    """Decoder and encoder threads each (None: FFmpeg and x264 choose)."""
    style: DrawStyle = field(default_factory=DrawStyle)


def _several_people(poses: Sequence[PoseFrame]) -> bool:
    """Whether the video shows more than one person (two tracks, or two people in a frame).

    Only then do bones take each person's colour; one person keeps the white bones of images,
    for the whole video, so a colour never flickers when a second person comes and goes.
    """
    tracks: set[int] = set()
    for frame in poses:
        if len(frame) > 1:
            return True
        tracks.update(int(t) for t in frame.track_id if t >= 0)
    return len(tracks) > 1


def _render_segment(segment: _Segment) -> tuple[int, list[str]]:
    """Draw `poses` on the frames of [start_ms, stop_ms) into `dest`; (frames written, errors)."""
    report = DecodeReport()
    by_time = {round(p.timestamp_ms, 3): p for p in segment.poses}
    size = segment.poses[0].image_size  # segments are never empty
    with VideoWriter(segment.dest, size, segment.fps, _CRF, segment.preset, segment.threads) as writer:
        for frame, t_ms, rotation in read_decoded(
            segment.source, segment.start_ms, segment.stop_ms, report, segment.threads
        ):
            pose = by_time.get(round(t_ms, 3))
            if pose is None:
                continue  # a frame the first decode could not read: keep the outputs aligned
            planes = i420_planes(frame) if rotation == 0 and (frame.width, frame.height) == size else None
            if planes is not None:  # the common case: draw on the decoded frame itself
                draw_poses_i420(planes, pose, segment.style, labels=segment.labels)
                writer.write_decoded(frame, t_ms)
            else:
                rgb = decoded_to_rgb(frame, rotation)
                writer.write(draw_poses(rgb, pose, segment.style, segment.labels, in_place=True), t_ms)
        return writer.frames, report.errors


def _join(parts: Sequence[Path], dest: Path) -> None:
    """Concatenate H.264 MP4 segments with absolute timestamps into one file, packet by packet."""
    import av

    with av.open(str(parts[0])) as first, av.open(str(dest), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(first.streams.video[0])
        for part in parts:
            with av.open(str(part)) as container:
                for packet in container.demux(video=0):
                    if packet.dts is None:
                        continue
                    packet.stream = stream
                    out.mux(packet)


def render_video(
    source: Path,
    dest: Path,
    info: VideoInfo,
    poses: list[PoseFrame],
    labels: bool = True,
    pool: Executor | None = None,
    segments: int = 1,
    preset: str = "ultrafast",
) -> int:
    """Write the annotated copy of `source` to `dest`; returns the number of frames written."""
    stamps = [p.timestamp_ms for p in poses]
    bounds = np.linspace(0, len(poses), max(1, segments) + 1).round().astype(int)
    style = DrawStyle(color_per_person=_several_people(poses))
    jobs = []
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        if a >= b:
            continue
        part = dest if segments <= 1 else dest.with_name(f".{dest.stem}.part{k}.mp4")
        bounds_ms = frame_range(stamps, a, b)
        # Segments drawn side by side in worker processes decode and encode on one thread each.
        threads = 1 if pool is not None and segments > 1 else None
        jobs.append(_Segment(source, part, poses[a:b], *bounds_ms, info.fps, labels, preset, threads, style))
    try:
        if pool is None or len(jobs) == 1:
            results = [_render_segment(job) for job in jobs]
        else:
            results = list(pool.map(_render_segment, jobs))
        if len(jobs) > 1:
            _join([job.dest for job in jobs], dest)
    except BaseException:
        if pool is not None and len(jobs) > 1:  # interrupted: stop the workers before cleaning up
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:  # also when interrupted: no segment files left behind
        if len(jobs) > 1:
            for job in jobs:
                job.dest.unlink(missing_ok=True)
    return sum(count for count, _ in results)


def write_outputs(
    source: Path,
    out_dir: Path,
    info: VideoInfo,
    tracked: list[PoseFrame],
    final: list[PoseFrame],
    options: VideoOptions,
    pool: Executor | None,
    workers: int,
    on_progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> dict[str, Path]:
    """Write every output kind in `options.outputs` (the MP4 in `workers` segments); returns kind -> path."""
    from localpose.video.options import VideoProgress

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = output_paths(source, out_dir)
    keypoint_kinds = [kind for kind in options.outputs if kind != "mp4"]
    # Keypoint files are written on a thread while the workers render the video.
    with ThreadPoolExecutor(1) as writer:
        pending = [
            writer.submit(
                _write_keypoints,
                kind,
                paths[kind],
                source,
                tracked,
                final,
                "angles" in options.outputs,
                options.motion,
            )
            for kind in keypoint_kinds
        ]
        written = {kind: paths[kind] for kind in keypoint_kinds}
        if "mp4" in options.outputs and not (cancel is not None and cancel.is_set()):
            if on_progress is not None:
                on_progress(VideoProgress("render", 0, len(final), 0.0, None))
            with atomic_path(paths["mp4"]) as mp4:
                render_video(source, mp4, info, final, options.draw_labels, pool, workers, options.mp4_preset)
            written["mp4"] = paths["mp4"]
            if on_progress is not None:
                on_progress(VideoProgress("render", len(final), len(final), 0.0, 0.0))
        for future in pending:
            future.result()
    return written
