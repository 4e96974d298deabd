"""Worker processes on a Ray cluster: a `concurrent.futures.Executor` whose workers are Ray actors.

`RayPool` stands in for the `ProcessPoolExecutor` that `localpose.batch` (image files) and
`localpose.video.pipeline` (video chunks and MP4 segments) use on one machine, so the work
items, their split and their results are the same code either way. Each actor is one
worker process: its initializer runs once (for images it loads one `PoseEstimator`), then
it takes items one after another.

In-flight work is bounded: at most `RayOptions.in_flight` items are handed to an actor ahead
of the one it is on; the rest wait in this process. When an actor is lost (its node died,
out of memory), the items it held are handed to the surviving actors; Ray restarts the actor
itself (`max_restarts`) when the cluster has room for it, and it takes work again once it
answers. An item whose actor is lost `max_attempts` times fails with `WorkerLostError`.

Inputs are read by the actors from their paths, so on a multi-node cluster the files must
be at the same path on every node (a shared folder); docs/cluster.md. `ray` is an optional
dependency (`localpose[ray]`), imported only when a pool is created.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from localpose.errors import InvalidOptionError, LocalposeError, MissingExtraError, WorkerLostError

__all__ = [
    "INSTALL_HINT",
    "PoolStats",
    "RayOptions",
    "RayPool",
    "connect",
    "progress_queue",
    "require_ray",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "Ray is not installed: pip install 'localpose[ray]' (or pip install 'ray==2.60.0')"


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run on Ray."""

    address: str | None = None
    """A running cluster ("auto", "HOST:PORT", "ray://HOST:PORT"); None starts Ray in this process."""
    actors: int = 0
    """Actors (worker processes) to start; 0: one per CPU of the cluster."""
    cpus_per_actor: float = 1.0
    """CPUs each actor reserves: one core's worth of work each, as the local workers are."""
    in_flight: int = 2
    """Items handed to an actor ahead of the one it is on (bounds the object store)."""
    max_restarts: int = 3
    """Times Ray restarts a lost actor when the cluster has room again."""
    max_attempts: int = 3
    """Times an item may be the one an actor dies working on before it is reported failed.
    Items an actor held when it died are re-sent alone first, so only the culprit counts."""
    restart_wait_s: float = 120.0
    """With every actor lost, how long to wait for one to come back before failing the rest."""

    def __post_init__(self) -> None:
        if self.actors < 0:
            raise InvalidOptionError(f"actors must be 0 (one per CPU) or more, got {self.actors}")
        if self.cpus_per_actor <= 0:
            raise InvalidOptionError(f"cpus_per_actor must be positive, got {self.cpus_per_actor}")
        if self.in_flight < 1 or self.max_attempts < 1 or self.max_restarts < 0:
            raise InvalidOptionError("in_flight and max_attempts must be >= 1, max_restarts >= 0")


@dataclass
class PoolStats:
    """What happened on the cluster: items done, items handed to another actor, actors lost."""

    actors: int = 0
    nodes: int = 0
    done: int = 0
    retried: int = 0
    actors_lost: int = 0
    failed: list[str] = field(default_factory=list)


def require_ray() -> Any:
    """The `ray` module, or a `LocalposeError` saying in one line how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise MissingExtraError(INSTALL_HINT) from exc
    return ray


class _Runner:
    """The body of one actor: runs the pool's initializer once, then calls work items."""

    def __init__(self, initializer: Callable[..., None] | None, boxed_initargs: list) -> None:
        if initializer is not None:
            # The arguments (the model, ~10 MB) come as one object owned by the driver, so a
            # restarted actor finds them again.
            initializer(*require_ray().get(boxed_initargs[0]))

    def ready(self) -> bool:
        return True

    def call(self, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        return fn(*args, **kwargs)


@functools.cache
def _runner_class() -> Any:
    return require_ray().remote(_Runner)


@dataclass
class _Item:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict[str, Any]
    future: Future
    attempts: int = 0
    started: bool = False
    suspect: bool = False
    """It was on an actor that died holding several items: it is re-sent alone."""


@dataclass
class _Actor:
    handle: Any
    held: deque = field(default_factory=deque)
    """Calls handed to the actor, oldest (the one it is working on) first."""
    probe: Any = None
    """While the actor is restarting: the `ready` call that answers once it is back."""
    solo: bool = False
    """Holding a suspect item: it gets nothing else until that is done."""
    lost_holding: int = 0
    """How many calls it held when it was last lost."""


class RayPool(Executor):
    """An `Executor` over Ray actors, one worker process each; `submit` never blocks.

    Use it as a context manager: leaving it stops its actors (and Ray, when it started it).
    """

    def __init__(
        self,
        options: RayOptions | None = None,
        initializer: Callable[..., None] | None = None,
        initargs: tuple | Callable[[], tuple] = (),
    ) -> None:
        """`initargs` may be a function that makes them once Ray is up (e.g. a progress queue)."""
        self.options = options or RayOptions()
        ray = require_ray()
        self._started_ray = connect(self.options.address)  # if so, shut down with the pool
        cpus = ray.cluster_resources().get("CPU", 1.0)
        count = self.options.actors or max(1, int(cpus // self.options.cpus_per_actor))
        runner = _runner_class().options(
            num_cpus=self.options.cpus_per_actor,
            max_restarts=self.options.max_restarts,
            max_task_retries=0,  # this pool re-sends a lost actor's items to the others itself
            scheduling_strategy="SPREAD",
        )
        self._initargs = ray.put(initargs() if callable(initargs) else initargs)
        self._actors = [_Actor(runner.remote(initializer, [self._initargs])) for _ in range(count)]
        self.stats = PoolStats(actors=count, nodes=sum(1 for n in ray.nodes() if n["Alive"]))
        self._queue: deque[_Item] = deque()
        self._running: dict[Any, tuple[_Item, _Actor]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = self._cancelled = False
        self._all_lost_since: float | None = None
        self._thread = threading.Thread(target=self._dispatch, name="localpose-ray", daemon=True)
        self._thread.start()

    @property
    def workers(self) -> int:
        """Actors in the pool (also the number of chunks a video is cut into)."""
        return len(self._actors)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closing or not self._thread.is_alive():
                raise LocalposeError("the Ray pool is shut down or its cluster failed")
            self._queue.append(_Item(fn, args, kwargs, future))
        self._wake.set()
        return future

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        # On an error or Ctrl-C, stop at once: queued items are cancelled, actors killed.
        self.shutdown(wait=True, cancel_futures=exc_type is not None)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closing:
                return
            if cancel_futures:
                for item in self._queue:
                    item.future.cancel()
                self._queue.clear()
            self._closing, self._cancelled = True, cancel_futures
        self._wake.set()
        if wait or cancel_futures:
            self._thread.join()
        ray = require_ray()
        try:
            for actor in self._actors:
                ray.kill(actor.handle, no_restart=True)
            # Wait (10 s at most) until they are gone, so nothing writes after this returns.
            probes = [a.handle.ready.remote() for a in self._actors]
            ray.wait(probes, num_returns=len(probes), timeout=10)
        except Exception as exc:  # the cluster is already gone: nothing left to stop
            log.debug("stopping the Ray actors: %s", exc)
        with self._lock:
            for item, _ in self._running.values():
                if not item.future.done():
                    item.future.set_exception(LocalposeError("the Ray pool was shut down"))
            self._running.clear()
        if self.stats.retried:
            log.warning(
                "Ray: %d item(s) handed to another actor after %d actor(s) were lost",
                self.stats.retried,
                self.stats.actors_lost,
            )
        if self._started_ray:
            ray.shutdown()

    # --- the dispatcher thread ------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            self._dispatch_until_closed(require_ray())
        except Exception as exc:  # the cluster itself failed (head lost, ...): nobody may wait forever
            log.error("the Ray pool stopped: %s", exc)
            with self._lock:
                items = [*self._queue, *(item for item, _ in self._running.values())]
                self._queue.clear()
                self._running.clear()
            for item in items:
                if not item.future.done():
                    item.future.set_exception(LocalposeError(f"the Ray cluster failed: {exc}"))

    def _dispatch_until_closed(self, ray: Any) -> None:
        while True:
            with self._lock:
                if self._closing and (self._cancelled or not (self._queue or self._running)):
                    return
                self._hand_out()
                refs = list(self._running)
                probes = [a.probe for a in self._actors if a.probe is not None]
            if not refs and not probes:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            done, _ = ray.wait(refs + probes, num_returns=1, timeout=0.05)
            for ref in done:
                self._settle(ray, ref)
            self._check_all_lost()

    def _hand_out(self) -> None:
        while self._queue:
            item = self._queue[0]
            live = [a for a in self._actors if a.probe is None and not a.solo]
            if item.suspect:  # alone on an idle actor, so a death under it is certainly its own
                idle = [a for a in live if not a.held]
                if not idle:
                    return
                actor = idle[0]
            else:
                if not live:
                    return
                actor = min(live, key=lambda a: len(a.held))
                if len(actor.held) > self.options.in_flight:
                    return
            self._queue.popleft()
            if not item.started:
                if not item.future.set_running_or_notify_cancel():
                    continue  # cancelled while it waited
                item.started = True
            ref = actor.handle.call.remote(item.fn, item.args, item.kwargs)
            actor.held.append(ref)
            actor.solo = item.suspect
            self._running[ref] = (item, actor)

    def _release(self, ref: Any) -> _Item:
        item, actor = self._running.pop(ref)
        actor.held.remove(ref)
        actor.solo = actor.solo and bool(actor.held)
        return item

    def _settle(self, ray: Any, ref: Any) -> None:
        from ray.exceptions import RayActorError

        with self._lock:
            probing = next((a for a in self._actors if a.probe is not None and a.probe == ref), None)
            if probing is not None:
                try:
                    ray.get(ref)
                    probing.probe = None  # back: it takes work again
                except RayActorError:
                    probing.probe = probing.handle.ready.remote()
                return
        try:
            result = ray.get(ref)  # ready: returns at once
        except RayActorError as exc:  # the actor died (or cannot be reached) under this item
            self._lost(ref, exc)
            return
        except Exception as exc:  # the item's own exception, raised in the actor: the caller's
            with self._lock:
                item = self._release(ref)
            item.future.set_exception(exc)
            return
        with self._lock:
            item = self._release(ref)
            self.stats.done += 1
        item.future.set_result(result)

    def _lost(self, ref: Any, exc: Exception) -> None:
        with self._lock:
            actor = self._running[ref][1]
            if actor.probe is None:  # the first sign of this loss
                self.stats.actors_lost += 1
                log.warning("a Ray actor was lost (%s); its work goes to the others", type(exc).__name__)
                actor.probe = actor.handle.ready.remote()
                actor.lost_holding = len(actor.held)
            item = self._release(ref)
            if actor.lost_holding == 1:  # it held nothing else: this item was the one
                item.attempts += 1
            else:  # any of the items it held may have been the cause (or none): try each alone
                item.suspect = True
            if item.attempts >= self.options.max_attempts:
                self.stats.failed.append(repr(item.args)[:200])
                item.future.set_exception(
                    WorkerLostError(f"its Ray worker died {item.attempts} times while working on it")
                )
                return
            self.stats.retried += 1
            self._queue.appendleft(item)

    def _check_all_lost(self) -> None:
        with self._lock:
            if any(a.probe is None for a in self._actors) or not self._queue:
                self._all_lost_since = None
                return
            now = time.monotonic()
            if self._all_lost_since is None:
                self._all_lost_since = now
            if now - self._all_lost_since < self.options.restart_wait_s:
                return
            while self._queue:
                item = self._queue.popleft()
                item.future.set_exception(WorkerLostError("every Ray worker was lost and none came back"))


def connect(address: str | None = None) -> bool:
    """Connect to the cluster at `address`, or start Ray in this process on loopback (no
    dashboard, quiet); True when this call started or connected it, False if Ray was up."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False, "configure_logging": False}
    if address is None:
        ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
    else:
        ray.init(address=address, **quiet)
    return True


def progress_queue() -> Any:
    """A Ray queue on this process's node, for workers to report progress through (Ray is up)."""
    ray = require_ray()
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
