"""Estimator worker processes behind a bounded queue.

Each worker process holds the model and a few `PoseEstimator`s (one per distinct set of
options asked for). Requests beyond the workers plus `queue_size` waiting are refused at
once with `BusyError` (HTTP 503 + Retry-After) instead of building an unbounded backlog.
Images travel to the workers as the bytes that were uploaded, and are decoded there.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from localpose.errors import BusyError, LocalposeError
from localpose.models import ModelBundle
from localpose.options import EstimatorOptions, ImageLimits, RuntimeChoice
from localpose.result import PoseFrame

__all__ = ["EstimatorPool", "RequestTimeoutError"]

T = TypeVar("T")
_WARM_UP_TIMEOUT_S = 120.0  # a worker that cannot start by then leaves the others ready anyway


class RequestTimeoutError(LocalposeError):
    """The estimate took longer than the per-request timeout."""

    code = "timeout"


class _WorkerState:
    """The model and estimators of one worker process (set by the pool initializer)."""

    model: ClassVar[ModelBundle | None] = None
    limits: ClassVar[ImageLimits] = ImageLimits()
    runtime: ClassVar[RuntimeChoice] = "auto"
    estimators: ClassVar[OrderedDict] = OrderedDict()
    started: ClassVar[Any] = None  # a Barrier the warm-up tasks meet at, one per worker


def _init_worker(model: ModelBundle, limits: ImageLimits, runtime: RuntimeChoice, started: Any) -> None:
    """Set up a new worker and build its default estimator: a worker takes requests only once
    this has run, so none pays for building the engine."""
    _WorkerState.model, _WorkerState.limits, _WorkerState.runtime = model, limits, runtime
    _WorkerState.started = started
    _estimator(EstimatorOptions())


def _estimator(options: EstimatorOptions):
    """This worker's estimator for `options`, on the server's runtime (a few are kept)."""
    from localpose.estimate import PoseEstimator

    options = replace(options, runtime=_WorkerState.runtime)
    cache = _WorkerState.estimators
    if options not in cache:
        cache[options] = PoseEstimator(options, _WorkerState.model, _WorkerState.limits)
        while len(cache) > 4:
            cache.popitem(last=False)[1].close()
    cache.move_to_end(options)
    return cache[options]


def warm_up(_: int) -> bool:
    """Wait until every worker runs one of these: then all have started and built their
    default estimator (a worker waiting here takes no second one)."""
    try:
        _WorkerState.started.wait(timeout=_WARM_UP_TIMEOUT_S)
    except threading.BrokenBarrierError:  # another worker never came: serve with those that did
        return False
    return True


def estimate_image(data: bytes, options: EstimatorOptions) -> PoseFrame:
    """Decode (with the size limits) and estimate one uploaded image."""
    return _estimator(options).estimate(data)


def render_image(data: bytes, options: EstimatorOptions, image_format: str, labels: bool) -> bytes:
    """The uploaded image with its poses drawn, encoded as PNG or JPEG."""
    import io

    from PIL import Image

    from localpose.draw import draw_poses
    from localpose.images import load_image

    rgb = load_image(data, _WorkerState.limits)
    frame = _estimator(options).estimate(rgb)
    out = io.BytesIO()
    drawn = Image.fromarray(draw_poses(rgb, frame, labels=labels))
    drawn.save(out, format="JPEG" if image_format == "jpeg" else "PNG", quality=90)
    return out.getvalue()


class EstimatorPool:
    """N worker processes and a bounded number of requests in flight."""

    def __init__(
        self,
        model: ModelBundle,
        workers: int,
        queue_size: int,
        limits: ImageLimits,
        runtime: RuntimeChoice = "auto",
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self.capacity = workers + queue_size
        started = context.Barrier(workers)
        self._executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(model, limits, runtime, started)
        )
        self._in_flight = 0
        self._lock = threading.Lock()
        self.ready = False

    async def warm(self) -> None:
        """Start the workers (each builds its default estimator first); then the pool is ready."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, warm_up, k) for k in range(self.workers)))
        self.ready = True

    def _release(self, _future: Any = None) -> None:
        with self._lock:
            self._in_flight -= 1

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run fn(*args) in a worker; BusyError when full, RequestTimeoutError after `timeout`."""
        with self._lock:
            if self._in_flight >= self.capacity:
                raise BusyError("all estimators are busy and the queue is full; retry shortly")
            self._in_flight += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)  # the slot frees when the worker really finishes
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            raise RequestTimeoutError(f"the request took longer than {timeout:g} s") from None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
