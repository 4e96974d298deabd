"""Live WebSocket sessions, each in a worker process of its own, replaced when one dies.

A live session keeps state from frame to frame (video-mode regions, tracks, the One Euro
filter), so it cannot hop between the estimator pool's workers. Each session runs in a
dedicated spawned process (a `WorkerProcess` of role "live"), so a native crash or the
out-of-memory killer ends one session, never the server. One spare process is kept started
(it has built and dropped a session, so a new one takes about 0.1 s) so a new session's first
frame does not wait for a process to start; when a session takes it, the next spare starts at once. A finished
session's process becomes the spare if there is none, else it is stopped.

A live worker that dies costs its own session: the client gets a JSON `worker_lost` error
and close code 1011, and the pool is `recovering` (the server's /readyz answers 503) until a
spare is ready again. A frame still running after the request timeout kills its worker the
same way (JSON `timeout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

from localpose.errors import BusyError, RequestTimeoutError, WorkerLostError
from localpose.options import EstimatorOptions
from localpose.result import PoseFrame
from localpose.server.pool import (
    RESTART_DELAYS_S,
    START_TIMEOUT_S,
    NotDeliveredError,
    WorkerProcess,
    WorkerSetup,
    live_close,
    live_frame,
    live_open,
    watch_exit,
)

__all__ = ["LiveLease", "LivePool"]

_log = logging.getLogger("localpose.server")
_CLOSE_SESSION_TIMEOUT_S = 5.0  # a worker that cannot end its session in this time is stopped


class LiveLease:
    """One live session's worker process, held until `close`."""

    def __init__(self, pool: LivePool, worker: WorkerProcess) -> None:
        self._pool = pool
        self.worker = worker
        self._closed = False

    async def frame(self, data: bytes, timestamp_ms: float, timeout: float) -> PoseFrame:
        """The session's next frame (decoded and estimated in its worker). WorkerLostError if the
        worker has died; RequestTimeoutError (and the worker killed) after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._pool.threads, self.worker.call, live_frame, (data, timestamp_ms))
        try:
            return await asyncio.wait_for(call, timeout)
        except NotDeliveredError:
            raise WorkerLostError(_LOST) from None
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            _log.warning("live worker %d is stuck on a frame; killing it", self.worker.index)
            self.worker.dead = True
            self.worker.process.kill()
            message = f"the frame took longer than {timeout:g} s; the session was ended"
            raise RequestTimeoutError(message) from None

    async def close(self) -> None:
        """End the session; its worker becomes the spare or is stopped."""
        if not self._closed:
            self._closed = True
            await self._pool.release(self.worker)


_LOST = "the live session's process stopped; it is being replaced, start a new session"


class LivePool:
    """At most `sessions` live sessions, each in its own worker process, plus one spare."""

    def __init__(self, setup: WorkerSetup, sessions: int) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._initargs = setup.initargs
        self.sessions = sessions
        self.threads = ThreadPoolExecutor(sessions + 1, thread_name_prefix="localpose-live")
        self._indexes = itertools.count()
        self._spare: asyncio.Future[WorkerProcess] | None = None
        self._take = asyncio.Lock()
        self._members: set[WorkerProcess] = set()
        self._retired: set[WorkerProcess] = set()  # stopped on purpose: their exit is no death
        self._closing = False
        self._lost_at: float | None = None
        self.in_use = 0
        """Sessions running now."""
        self.restarts = 0
        """Live workers that died (their sessions ended with `worker_lost`)."""
        self.last_recovery_s: float | None = None
        """Seconds from the last live worker's death until a spare was ready again."""

    @property
    def recovering(self) -> bool:
        """A live worker died and no spare is ready yet."""
        return self._lost_at is not None

    def _started_spare(self) -> WorkerProcess | None:
        """The spare, if it has started (it may have died since)."""
        spare = self._spare
        if spare is None or not spare.done() or spare.cancelled() or spare.exception() is not None:
            return None
        return spare.result()

    @property
    def spare_ready(self) -> bool:
        """A started live worker is waiting for the next session."""
        spare = self._started_spare()
        return spare is not None and not spare.dead

    def warm(self) -> None:
        """Start the spare (call on the event loop)."""
        self._ensure_spare()

    def _ensure_spare(self) -> None:
        if self._spare is None and not self._closing:
            self._spare = asyncio.ensure_future(self._spawn())
            self._spare.add_done_callback(self._spare_done)

    def _spare_done(self, future: asyncio.Future) -> None:
        if future.cancelled() or future.exception() is not None:
            if self._spare is future:
                self._spare = None
            return
        if self._lost_at is not None:
            self.last_recovery_s = time.monotonic() - self._lost_at
            self._lost_at = None
            _log.warning("live worker replaced in %.1f s", self.last_recovery_s)

    async def _spawn(self) -> WorkerProcess:
        loop = asyncio.get_running_loop()
        for attempt in itertools.count():
            if attempt:
                await asyncio.sleep(RESTART_DELAYS_S[min(attempt, len(RESTART_DELAYS_S) - 1)])
            if self._closing:
                raise BusyError("the server is shutting down")
            index = next(self._indexes)
            worker = await loop.run_in_executor(
                None, WorkerProcess, self._context, index, self._initargs, "live"
            )
            self._members.add(worker)
            if await loop.run_in_executor(None, worker.wait_ready, START_TIMEOUT_S) and not self._closing:
                watch_exit(worker, loop, self._on_exit)
                return worker
            self._members.discard(worker)
            await loop.run_in_executor(None, worker.stop)
            if not self._closing:
                _log.warning("live worker %d did not start (exit %s)", index, worker.process.exitcode)
                self.restarts += 1
                if self._lost_at is None:
                    self._lost_at = time.monotonic()
        raise AssertionError("unreachable")

    def _on_exit(self, worker: WorkerProcess) -> None:
        """A live worker's process ended: if it was not stopped on purpose, start a spare."""
        worker.dead = True
        self._members.discard(worker)
        if worker in self._retired or self._closing:
            self._retired.discard(worker)
            return
        worker.process.join(0)
        pid, exitcode = worker.process.pid, worker.process.exitcode
        _log.warning("live worker %d (pid %s) died (exit code %s)", worker.index, pid, exitcode)
        self.restarts += 1
        spare = self._started_spare()
        if spare is worker:  # the spare itself died
            self._spare = None
        elif spare is not None:  # a spare is ready: new sessions are not affected
            self.last_recovery_s = 0.0
            return
        self._lost_at = time.monotonic()
        self._ensure_spare()

    async def open(self, options: EstimatorOptions) -> LiveLease:
        """A worker with a new session on `options`. BusyError when every session is in use."""
        if self._closing:
            raise BusyError("the server is shutting down")
        if self.in_use >= self.sessions:
            raise BusyError(f"all {self.sessions} live sessions are in use; try again later")
        self.in_use += 1
        try:
            worker = await self._take_spare()
            if self.in_use < self.sessions:
                self._ensure_spare()  # the next session will not wait for a process to start
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self.threads, worker.call, live_open, (options,))
            except BaseException as exc:  # a dead worker is stopped (its pipe closed) too
                await self.release(worker, counted=False)
                if isinstance(exc, NotDeliveredError):
                    raise WorkerLostError(_LOST) from None
                raise
        except BaseException:
            self.in_use -= 1
            raise
        return LiveLease(self, worker)

    async def _take_spare(self) -> WorkerProcess:
        async with self._take:  # two sessions starting at once never get the same process
            while True:
                self._ensure_spare()
                spare = self._spare
                assert spare is not None
                worker = await asyncio.shield(spare)
                if self._spare is spare:
                    self._spare = None
                if not worker.dead:
                    return worker

    async def release(self, worker: WorkerProcess, counted: bool = True) -> None:
        """End the worker's session: keep the worker as the spare if there is none, else stop it."""
        if counted:
            self.in_use -= 1
        loop = asyncio.get_running_loop()
        if not worker.dead and not self._closing:
            call = loop.run_in_executor(self.threads, worker.call, live_close, ())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call, _CLOSE_SESSION_TIMEOUT_S)
                if self._spare is None and not worker.dead and not self._closing:
                    self._spare = loop.create_future()
                    self._spare.set_result(worker)
                    return
        if not worker.dead:
            self._retired.add(worker)
        self._members.discard(worker)
        await loop.run_in_executor(None, worker.stop)

    async def close(self) -> None:
        """Stop every live worker (sessions still running are ended)."""
        self._closing = True
        if self._spare is not None and not self._spare.done():
            self._spare.cancel()
        loop = asyncio.get_running_loop()
        workers = list(self._members)
        self._members.clear()
        await asyncio.gather(*(loop.run_in_executor(None, w.stop) for w in workers))
        self.threads.shutdown(wait=False, cancel_futures=True)
