"""Estimator worker processes behind a bounded queue, replaced when one dies.

Each worker is its own spawned process, talking to the server over a pipe, holding the model
and a few `PoseEstimator`s (one per distinct set of options asked for, least recently used
dropped beyond `_ESTIMATORS_KEPT`). Requests beyond the workers plus `queue_size` waiting are
refused at once with `BusyError` (HTTP 503 + Retry-After) instead of building a backlog.
Images travel to the workers as the bytes that were uploaded, and are decoded there.

A worker that dies (the out-of-memory killer, a native crash) costs only the request it was
running, which gets `WorkerLostError` (503); the pool starts a replacement at once and is
not `ready` until it has loaded the model. A worker still busy with a request twice its
timeout after it started is killed (and so replaced). Workers end by themselves when the
server dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, TypeVar

from localpose.errors import (
    BusyError,
    EstimatorFailedError,
    LocalposeError,
    RequestTimeoutError,
    WorkerLostError,
)
from localpose.models import ModelBundle, load_model
from localpose.options import EstimatorOptions, ImageLimits, ModelOptions, RuntimeChoice, default_workers
from localpose.result import PoseFrame

__all__ = [
    "EstimatorPool",
    "WorkerProcess",
    "WorkerSetup",
    "estimate_image",
    "live_close",
    "live_frame",
    "live_open",
    "lone_threads",
    "render_image",
    "watch_exit",
]

T = TypeVar("T")
WorkerRole = Literal["estimator", "live"]
_log = logging.getLogger("localpose.server")
START_TIMEOUT_S = 120.0  # a worker that has not loaded the model by then is killed and started again
RESTART_DELAYS_S = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)  # after consecutive failed starts
_ESTIMATORS_KEPT = 4  # (model, option set)s whose engines a worker keeps (each holds the networks)
_MODELS_KEPT = 2  # models besides the server's own that a worker keeps, loaded from the cache by name
_STOP_TIMEOUT_S = 5.0


class NotDeliveredError(Exception):
    """The request could not be handed to a worker that has just died: try another one."""


class _WorkerState:
    """The model and estimators of one worker process (set by `_worker_main`)."""

    model: ClassVar[ModelBundle | None] = None
    model_cache: ClassVar[Any] = None  # where models asked for by name are loaded from
    limits: ClassVar[ImageLimits] = ImageLimits()
    runtime: ClassVar[RuntimeChoice] = "auto"
    estimators: ClassVar[OrderedDict] = OrderedDict()
    models: ClassVar[OrderedDict] = OrderedDict()
    live: ClassVar[Any] = None  # a live worker's `LiveSession`


def lone_threads() -> int:
    """Threads for a request that has the machine to itself: every core, up to the estimator's cap."""
    from localpose.estimate import MAX_AUTO_THREADS

    return min(MAX_AUTO_THREADS, default_workers())


def _model(name: str | None) -> ModelBundle:
    """The server's own model (None), or a model from the cache by name (a few are kept)."""
    if name is None:
        assert _WorkerState.model is not None, "worker not initialised"
        return _WorkerState.model
    cache = _WorkerState.models
    if name not in cache:
        cache[name] = load_model(ModelOptions(name, _WorkerState.model_cache))
        while len(cache) > _MODELS_KEPT:
            cache.popitem(last=False)
    cache.move_to_end(name)
    return cache[name]


def _estimator(options: EstimatorOptions, model: str | None = None, threads: int = 1):
    """This worker's estimator for `options` and `model` on the server's runtime (a few are
    kept), set to run its networks on `threads` threads."""
    from localpose.estimate import PoseEstimator

    options = replace(options, runtime=_WorkerState.runtime)
    cache = _WorkerState.estimators
    key = (options, model)
    if key not in cache:
        cache[key] = PoseEstimator(options, _model(model), _WorkerState.limits, threads=threads)
        while len(cache) > _ESTIMATORS_KEPT:
            cache.popitem(last=False)[1].close()
    cache.move_to_end(key)
    estimator = cache[key]
    estimator.threads = threads
    return estimator


def _name_process(name: str) -> None:
    """Show `name` for this process in ps and top (Linux; elsewhere nothing happens)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def _worker_main(
    conn: Any,
    role: WorkerRole,
    model: ModelBundle,
    model_cache: Any,
    limits: ImageLimits,
    runtime: RuntimeChoice,
) -> None:
    """A worker process: an estimator worker builds the default estimator (its networks on
    one and on all threads); a live worker builds and drops a session (its own sessions start
    when clients connect). Then it says it is ready and runs requests until told to stop."""
    from localpose.lifeline import watch_parent

    watch_parent()
    _name_process(f"localpose-{role}")
    _WorkerState.model, _WorkerState.model_cache = model, model_cache
    _WorkerState.limits, _WorkerState.runtime = limits, runtime
    if role == "estimator":
        _estimator(EstimatorOptions(), None, lone_threads()).threads = 1
    else:  # a first session built and dropped: the runtime imported, a new session's start halved
        live_open(EstimatorOptions(runtime=runtime))
        live_close()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        if task is None:
            return
        fn, args = task
        try:
            reply = (True, fn(*args))
        except LocalposeError as exc:
            reply = (False, exc)
        except Exception:  # a bug or a native library's error: logged here, generic to the client
            traceback.print_exc()
            reply = (False, EstimatorFailedError("the estimator failed on this input (see the server log)"))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


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


def live_open(options: EstimatorOptions) -> None:
    """Start this live worker's session (video mode, tracking, flags, smoothing) on `options`
    (whose runtime the server has set to its own)."""
    from localpose.live import LiveSession

    live_close()
    _WorkerState.live = LiveSession(options, _model(None))


def live_frame(data: bytes, timestamp_ms: float) -> PoseFrame:
    """Decode (with the size limits) and estimate the session's next frame."""
    from localpose.images import decode_image

    assert _WorkerState.live is not None, "no live session"
    return _WorkerState.live.process(decode_image(data, _WorkerState.limits), timestamp_ms)


def live_close() -> None:
    """End this live worker's session, if any (the worker can take another one)."""
    if _WorkerState.live is not None:
        _WorkerState.live.close()
        _WorkerState.live = None


class WorkerProcess:
    """One worker process and the server's end of its pipe. `role` names the process
    (``localpose-<role>`` in ps and top) and says what it prepares before it is ready."""

    def __init__(self, context: Any, index: int, initargs: tuple, role: WorkerRole = "estimator") -> None:
        self.index = index
        self.dead = False
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, role, *initargs), name=f"localpose-{role}-{index}", daemon=True
        )
        self.process.start()
        child.close()  # only the worker holds its end: its death is an EOF here

    def wait_ready(self, timeout: float) -> bool:
        """Block until the worker has loaded the model (False if it died or took too long)."""
        deadline = time.monotonic() + timeout
        try:
            while not self.dead and time.monotonic() < deadline:
                if self.conn.poll(0.5):
                    return self.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            pass
        return False

    def call(self, fn: Callable[..., T], args: tuple) -> T:
        """Run fn(*args) in the worker and return its result (blocks; run in a thread)."""
        try:
            self.conn.send((fn, args))
        except OSError:  # BrokenPipeError: it died before this request reached it
            self.dead = True
            raise NotDeliveredError from None
        try:
            ok, value = self.conn.recv()
        except (EOFError, OSError):
            self.dead = True
            raise WorkerLostError(
                "the estimator process running this request stopped; it is being replaced, retry shortly"
            ) from None
        if ok:
            return value
        raise value

    def stop(self) -> None:
        """Ask the worker to finish, then kill it if it does not."""
        self.dead = True
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(_STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def watch_exit(
    worker: WorkerProcess, loop: asyncio.AbstractEventLoop, on_exit: Callable[[WorkerProcess], None]
) -> None:
    """Call on_exit(worker) on the event loop as soon as the worker's process ends."""

    def wait() -> None:
        multiprocessing.connection.wait([worker.process.sentinel])  # not reaped here
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server has stopped
            loop.call_soon_threadsafe(on_exit, worker)

    threading.Thread(target=wait, name=f"localpose-watch-{worker.index}", daemon=True).start()


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple
    started: bool = False
    worker: WorkerProcess | None = None


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker process of the server starts with (estimator and live workers alike)."""

    model: ModelBundle
    """The server's own model."""
    limits: ImageLimits
    runtime: RuntimeChoice = "auto"
    model_cache: Any = None
    """Where models asked for by name are loaded from."""

    @property
    def initargs(self) -> tuple:
        """`_worker_main`'s arguments after the pipe and the role."""
        return (self.model, self.model_cache, self.limits, self.runtime)


class EstimatorPool:
    """N worker processes, kept at strength, and a bounded number of requests in flight."""

    def __init__(self, setup: WorkerSetup, workers: int, queue_size: int) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._initargs = setup.initargs
        self._lone_threads = lone_threads()
        self.workers = workers
        self.capacity = workers + queue_size
        self._threads = ThreadPoolExecutor(2 * workers, thread_name_prefix="localpose-pool")
        self._idle: asyncio.Queue[WorkerProcess] = asyncio.Queue()
        self._members: dict[int, WorkerProcess] = {}  # every worker process, starting or ready
        self._ready: set[int] = set()
        self._restarting: set[asyncio.Task] = set()
        self._in_flight = 0
        self._closing = False
        self.was_ready = False
        """The pool has been at full strength at least once (it is recovering, not starting)."""
        self.restarts = 0
        """Workers replaced after dying."""
        self.last_recovery_s: float | None = None
        """Seconds from the last worker's death until its replacement was ready."""

    @property
    def ready(self) -> bool:
        """Every worker is up with the model loaded."""
        return not self._closing and len(self._ready) == self.workers

    @property
    def alive(self) -> int:
        """Workers up with the model loaded."""
        return len(self._ready)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def warm(self) -> None:
        """Start every worker (each loads the model first); then the pool is ready."""
        await asyncio.gather(*(self._start(index) for index in range(self.workers)))

    async def _start(self, index: int) -> None:
        """Start worker `index` and wait until it has loaded the model, retrying with a back-off."""
        loop = asyncio.get_running_loop()
        for attempt in itertools.count():
            if attempt:
                await asyncio.sleep(RESTART_DELAYS_S[min(attempt, len(RESTART_DELAYS_S) - 1)])
            if self._closing:
                return
            worker = await loop.run_in_executor(None, WorkerProcess, self._context, index, self._initargs)
            self._members[index] = worker
            if self._closing:  # close() began while this one was starting
                await loop.run_in_executor(None, worker.stop)
                return
            if await loop.run_in_executor(None, worker.wait_ready, START_TIMEOUT_S) and not self._closing:
                watch_exit(worker, loop, self._on_exit)
                self._ready.add(index)
                self._idle.put_nowait(worker)
                self.was_ready = self.was_ready or self.ready
                return
            await loop.run_in_executor(None, worker.stop)
            if not self._closing:
                _log.warning("estimator worker %d did not start (exit %s)", index, worker.process.exitcode)

    def _on_exit(self, worker: WorkerProcess) -> None:
        """The worker's process ended: start a replacement unless the pool is closing."""
        loop = asyncio.get_running_loop()
        worker.dead = True
        self._ready.discard(worker.index)
        if self._closing:
            return
        worker.process.join(0)
        _log.warning(
            "estimator worker %d (pid %s) died (exit code %s); starting a new one",
            worker.index,
            worker.process.pid,
            worker.process.exitcode,
        )
        task = loop.create_task(self._replace(worker.index, time.monotonic()))
        self._restarting.add(task)
        task.add_done_callback(self._restarting.discard)

    async def _replace(self, index: int, lost_at: float) -> None:
        await self._start(index)
        if index in self._ready:
            self.restarts += 1
            self.last_recovery_s = time.monotonic() - lost_at
            _log.warning("estimator worker %d replaced in %.1f s", index, self.last_recovery_s)

    async def _serve(self, job: _Job) -> Any:
        """Run the job on the next idle live worker; the worker is idle again when it returns."""
        loop = asyncio.get_running_loop()
        while True:
            worker = await self._idle.get()
            if worker.dead:
                continue
            job.started, job.worker = True, worker
            try:
                return await loop.run_in_executor(self._threads, worker.call, job.fn, job.args)
            except NotDeliveredError:
                job.started = False
            finally:
                if not worker.dead:
                    self._idle.put_nowait(worker)

    def _finished(self, task: asyncio.Task) -> None:
        self._in_flight -= 1
        if not task.cancelled():
            task.exception()  # retrieved here: a timed-out request's late error is not "never retrieved"

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float, threaded: bool = False) -> T:
        """Run fn(*args) in a worker; BusyError when full, RequestTimeoutError after `timeout`,
        WorkerLostError if the worker dies meanwhile.

        With `threaded`, fn's last argument is its thread count: every core when no other
        request is in flight, else 1 (a second thread gives nothing while the other core is busy).
        """
        if self._closing:
            raise BusyError("the server is shutting down")
        if self._in_flight >= self.capacity:
            raise BusyError("all estimators are busy and the queue is full; retry shortly")
        self._in_flight += 1
        if threaded:
            args = (*args, self._lone_threads if self._in_flight == 1 else 1)
        job = _Job(fn, args)
        task = asyncio.get_running_loop().create_task(self._serve(job))
        task.add_done_callback(self._finished)  # the slot frees when the worker really finishes
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            if not job.started:
                task.cancel()
            else:  # still computing: if it is still at it after another `timeout`, it is stuck
                asyncio.get_running_loop().call_later(timeout, self._kill_if_stuck, job, task)
            raise RequestTimeoutError(f"the request took longer than {timeout:g} s") from None

    def _kill_if_stuck(self, job: _Job, task: asyncio.Task) -> None:
        """Kill the worker of a request that outlived twice its timeout (it is then replaced)."""
        if not task.done() and job.worker is not None and not job.worker.dead:
            _log.warning("estimator worker %d is stuck on a request; killing it", job.worker.index)
            job.worker.process.kill()

    async def close(self) -> None:
        """Stop every worker (those busy are killed after a few seconds)."""
        self._closing = True
        loop = asyncio.get_running_loop()
        for task in list(self._restarting):
            task.cancel()
        workers = list(self._members.values())
        await asyncio.gather(*(loop.run_in_executor(None, w.stop) for w in workers))
        self._threads.shutdown(wait=False, cancel_futures=True)
