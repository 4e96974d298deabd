"""Estimator worker processes behind a bounded queue.

Each worker process holds the server's model and a few `PoseEstimator`s (one per distinct
model and set of options asked for; other models are loaded from the cache by name).
Requests beyond the workers plus `queue_size` waiting are refused at
once with `BusyError` (HTTP 503 + Retry-After) instead of building an unbounded backlog.
Images travel to the workers as the bytes that were uploaded, and are decoded there.
A request that finds every other worker idle runs its networks on all the cores
(`lone_threads`); under load each request runs on one core, so workers never oversubscribe.
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
from localpose.models import ModelBundle, load_model
from localpose.options import EstimatorOptions, ImageLimits, ModelOptions, RuntimeChoice, default_workers
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
    model_cache: ClassVar[Any] = None  # where models asked for by name are loaded from
    limits: ClassVar[ImageLimits] = ImageLimits()
    runtime: ClassVar[RuntimeChoice] = "auto"
    estimators: ClassVar[OrderedDict] = OrderedDict()
    models: ClassVar[OrderedDict] = OrderedDict()
    threads: ClassVar[int] = 1
    started: ClassVar[Any] = None  # a Barrier the warm-up tasks meet at, one per worker


def _init_worker(
    model: ModelBundle, model_cache: Any, limits: ImageLimits, runtime: RuntimeChoice, started: Any
) -> None:
    """Set up a new worker and build its default estimator on one and on all threads: a worker
    takes requests only once this has run, so none pays for building the engine."""
    _WorkerState.model, _WorkerState.model_cache = model, model_cache
    _WorkerState.limits, _WorkerState.runtime = limits, runtime
    _WorkerState.started = started
    estimator = _estimator(EstimatorOptions(), None, lone_threads())
    estimator.threads = 1


def lone_threads() -> int:
    """Threads for a request that has the machine to itself: every core, up to the estimator's cap."""
    from localpose.estimate import MAX_AUTO_THREADS

    return min(MAX_AUTO_THREADS, default_workers())


def _model(name: str | None) -> ModelBundle:
    """The server's own model (None), or a model from the cache by name (two are kept)."""
    if name is None:
        assert _WorkerState.model is not None, "worker not initialised"
        return _WorkerState.model
    cache = _WorkerState.models
    if name not in cache:
        cache[name] = load_model(ModelOptions(name, _WorkerState.model_cache))
        while len(cache) > 2:
            cache.popitem(last=False)
    cache.move_to_end(name)
    return cache[name]


def _estimator(options: EstimatorOptions, model: str | None, threads: int):
    """This worker's estimator for `options` and `model` on the server's runtime (a few are kept),
    set to run on `threads` threads."""
    from localpose.estimate import PoseEstimator

    options = replace(options, runtime=_WorkerState.runtime)
    cache = _WorkerState.estimators
    key = (options, model)
    if key not in cache:
        cache[key] = PoseEstimator(options, _model(model), _WorkerState.limits, threads=threads)
        while len(cache) > 4:
            cache.popitem(last=False)[1].close()
    cache.move_to_end(key)
    estimator = cache[key]
    estimator.threads = threads
    return estimator


def warm_up(_: int) -> bool:
    """Wait until every worker runs one of these: then all have started and built their
    default estimator (a worker waiting here takes no second one)."""
    try:
        _WorkerState.started.wait(timeout=_WARM_UP_TIMEOUT_S)
    except threading.BrokenBarrierError:  # another worker never came: serve with those that did
        return False
    return True


def estimate_image(
    data: bytes, options: EstimatorOptions, model: str | None = None, threads: int = 1
) -> PoseFrame:
    """Decode (with the size limits) and estimate one uploaded image."""
    return _estimator(options, model, threads).estimate(data)


def render_image(
    data: bytes,
    options: EstimatorOptions,
    model: str | None,
    image_format: str,
    labels: bool,
    threads: int = 1,
) -> bytes:
    """The uploaded image with its poses drawn, encoded as PNG or JPEG."""
    import io

    from PIL import Image

    from localpose.draw import draw_poses
    from localpose.images import load_image

    rgb = load_image(data, _WorkerState.limits)
    frame = _estimator(options, model, threads).estimate(rgb)
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
        model_cache: Any = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self.capacity = workers + queue_size
        started = context.Barrier(workers)
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(model, model_cache, limits, runtime, started),
        )
        self._in_flight = 0
        self._lone_threads = lone_threads()
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

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float, threaded: bool = False) -> T:
        """Run fn(*args) in a worker; BusyError when full, RequestTimeoutError after `timeout`.

        With `threaded`, fn also gets threads=N: every core when no other request is in flight,
        else 1 (a second thread gives nothing while the other core is busy).
        """
        with self._lock:
            if self._in_flight >= self.capacity:
                raise BusyError("all estimators are busy and the queue is full; retry shortly")
            self._in_flight += 1
            alone = self._in_flight == 1
        try:
            extra = {"threads": self._lone_threads if alone else 1} if threaded else {}
            future = self._executor.submit(fn, *args, **extra)
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
