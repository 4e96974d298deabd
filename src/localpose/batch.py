"""Many image files through worker processes, one `PoseEstimator` each, results in input order.

What `localpose image` runs on a folder. Each worker reads and decodes its files itself (only
paths go out and only results come back), and draws the overlay there too when asked, so
the main process only writes files. A small batch runs in this process: starting the workers
costs about as much (0.2 s) as estimating half a dozen images. With `BatchOptions.ray` the
workers are Ray actors instead (`localpose.cluster`), one estimator each, any batch size.
"""

from __future__ import annotations

import io
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localpose.cluster import RayOptions, RayPool
from localpose.errors import InvalidInputError, InvalidOptionError, LocalposeError, WorkerLostError
from localpose.estimate import PoseEstimator
from localpose.images import load_image
from localpose.models import ModelBundle
from localpose.options import EstimatorOptions, ImageLimits, default_workers
from localpose.result import PoseFrame

__all__ = ["BatchOptions", "ImageOutcome", "estimate_files", "overlay_file_suffix"]

IMAGES_PER_WORKER = 8
"""A worker is started for every 8 images at most: fewer would not repay its start-up."""
_IN_FLIGHT_PER_WORKER = 8  # files handed to a worker ahead of the one it is on


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch of image files."""

    workers: int = 0
    """Worker processes at most (0: one per core this process may use)."""
    overlay: bool = False
    """Also return each image with its poses drawn, encoded (`overlay_file_suffix`)."""
    ray: RayOptions | None = None
    """Run on Ray actors (one per CPU of the cluster unless `RayOptions.actors`) instead of
    local worker processes; `workers` is then not used."""

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or self.workers < 0:
            raise InvalidOptionError(f"workers must be 0 (all cores) or more, got {self.workers}")

    def workers_for(self, images: int) -> int:
        """Worker processes for a batch of `images` (1: run in this process)."""
        wanted = self.workers or default_workers()
        return max(1, min(wanted, images // IMAGES_PER_WORKER))


@dataclass(frozen=True)
class ImageOutcome:
    """One file's result: its poses, or why it could not be used."""

    path: Path
    frame: PoseFrame | None
    error: str | None = None
    overlay: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.frame is not None


def overlay_file_suffix(path: Path) -> str:
    """The overlay's file suffix: JPEG for JPEG sources (small), PNG for the rest (lossless)."""
    return ".jpg" if path.suffix.lower() in (".jpg", ".jpeg") else ".png"


def _encode_overlay(rgb: np.ndarray, frame: PoseFrame, path: Path) -> bytes:
    from PIL import Image

    from localpose.draw import draw_poses

    out = io.BytesIO()
    drawn = Image.fromarray(draw_poses(rgb, frame))
    if overlay_file_suffix(path) == ".jpg":
        drawn.save(out, format="JPEG", quality=92)
    else:
        drawn.save(out, format="PNG")
    return out.getvalue()


def _estimate_one(estimator: PoseEstimator, path: Path, overlay: bool) -> ImageOutcome:
    try:
        rgb = load_image(path, estimator.limits)
        frame = estimator.estimate(rgb)
    except InvalidInputError as exc:
        return ImageOutcome(path, None, str(exc))
    return ImageOutcome(path, frame, overlay=_encode_overlay(rgb, frame, path) if overlay else None)


class _Worker:
    """The estimator of one worker process (set by the pool initializer)."""

    estimator: PoseEstimator | None = None
    overlay: bool = False


def _init_worker(options: EstimatorOptions, model: ModelBundle, limits: ImageLimits, overlay: bool) -> None:
    _Worker.estimator = PoseEstimator(options, model, limits, threads=1)  # the workers fill the cores
    _Worker.overlay = overlay


def _run_in_worker(path: Path) -> ImageOutcome:
    assert _Worker.estimator is not None, "worker not initialised"
    return _estimate_one(_Worker.estimator, path, _Worker.overlay)


def estimate_files(
    paths: Sequence[Path],
    estimator: PoseEstimator,
    batch: BatchOptions | None = None,
) -> Iterator[ImageOutcome]:
    """Each file's outcome, in the order of `paths`.

    `estimator` runs small batches here; for larger ones its options, model and limits are
    given to worker processes (`BatchOptions.workers_for`). Files that are not usable images
    come back with `error` set; every other exception is raised (`LocalposeError` when a
    worker process dies).
    """
    batch = batch or BatchOptions()
    initargs = (estimator.options, estimator.model, estimator.limits, batch.overlay)
    pool: Executor
    if batch.ray is not None:
        pool = RayPool(batch.ray, initializer=_init_worker, initargs=initargs)
        workers = pool.workers
    else:
        workers = batch.workers_for(len(paths))
        if workers == 1:
            for path in paths:
                yield _estimate_one(estimator, Path(path), batch.overlay)
            return
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=initargs)
    with pool:
        pending: deque[tuple[Path, Future[ImageOutcome]]] = deque()
        try:
            for path in paths:
                pending.append((Path(path), pool.submit(_run_in_worker, Path(path))))
                if len(pending) >= workers * (_IN_FLIGHT_PER_WORKER + 1):
                    yield _outcome(*pending.popleft())
            while pending:
                yield _outcome(*pending.popleft())
        except BrokenProcessPool as exc:
            raise LocalposeError(
                "a worker process stopped unexpectedly (out of memory?); try fewer workers"
            ) from exc
        finally:
            for _, future in pending:
                future.cancel()


def _outcome(path: Path, future: Future[ImageOutcome]) -> ImageOutcome:
    """The file's outcome; on Ray, a file whose worker died every time it was tried is reported."""
    try:
        return future.result()
    except WorkerLostError as exc:
        return ImageOutcome(path, None, str(exc))
