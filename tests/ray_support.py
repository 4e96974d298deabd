"""A real Ray cluster on loopback for the cluster tests: a head and a worker node, one CPU each.

Both nodes are `ray start --block` processes of this test run; everything they start is
found by process id (their descendants, and processes that name the cluster's own temp
folder) and stopped by id at the end. Node failures are noticed within ~2 s (fast health
checks), so the fault tests do not wait the default 30 s. The cluster takes a token of its
own (`env`: Ray's token authentication), which the test process uses to connect.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
FAST_HEALTH_CHECKS = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def _naming(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
    return pids


def _exe_name(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(os.readlink(f"/proc/{pid}/exe")).name
    return ""


@dataclass
class LoopbackCluster:
    temp_dir: Path
    port: int
    head: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    started: set[int] = field(default_factory=set)

    @property
    def env(self) -> dict[str, str]:
        """What a driver (or node) needs in its environment to join this cluster."""
        return {
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.temp_dir / "auth_token"),
        }

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, **FAST_HEALTH_CHECKS, **self.env}
        command = [RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *args]
        with (self.temp_dir / "nodes.log").open("a") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.started.add(process.pid)
        return process

    def start_head(self) -> None:
        self.head = self._start(
            [
                *("--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port)),
                *("--include-dashboard=false", "--temp-dir", str(self.temp_dir)),
            ]
        )
        self.wait_for_nodes(1)

    def add_worker_node(self) -> None:
        """Start a second node process and wait until the cluster counts it."""
        alive = self.alive_nodes()
        self.workers.append(self._start(["--address", self.address, "--node-ip-address", "127.0.0.1"]))
        self.wait_for_nodes(alive + 1)

    def alive_nodes(self) -> int:
        command = [sys.executable, "-c", _COUNT_NODES, self.address]
        env = {**os.environ, **self.env}
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        return int(result.stdout.strip() or 0)

    def wait_for_nodes(self, count: int, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.head is not None and self.head.poll() is not None:
                raise RuntimeError(f"ray head exited; see {self.temp_dir / 'nodes.log'}")
            with contextlib.suppress(ValueError, subprocess.TimeoutExpired):
                if self.alive_nodes() >= count:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"the cluster did not reach {count} node(s); see {self.temp_dir / 'nodes.log'}")

    def worker_raylet(self) -> int:
        """The process id of the last worker node's raylet."""
        node = self.workers[-1]
        for pid in _descendants(node.pid):
            if _exe_name(pid) == "raylet":
                return pid
        raise RuntimeError("the worker node has no raylet process")

    def worker_node_busy(self) -> bool:
        """Whether an actor on the last worker node is running a call (Ray names the process so)."""
        for pid in _descendants(self.workers[-1].pid):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::_Runner.call"):
                    return True
        return False

    def kill_worker_raylet(self) -> int:
        pid = self.worker_raylet()
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self, keep_logs: bool = False) -> None:
        """Stop every process the cluster started, by process id: SIGTERM, then SIGKILL."""
        pids = set(_naming(str(self.temp_dir)))
        for pid in self.started:
            pids.update(_descendants(pid))
        pids.discard(os.getpid())
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            for process in [self.head, *self.workers]:
                if process is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=max(0.1, deadline - time.monotonic()))
            pids = {p for p in pids if Path(f"/proc/{p}").exists() and not _is_zombie(p)}
            if not pids:
                break
        if not keep_logs:
            shutil.rmtree(self.temp_dir, ignore_errors=True)  # sessions, logs, sockets, the token


def _is_zombie(pid: int) -> bool:
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return True


_COUNT_NODES = """
import sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
print(sum(1 for n in ray.nodes() if n["Alive"]))
"""


def start_loopback_cluster() -> LoopbackCluster:
    """A head and one worker node on 127.0.0.1, one CPU each (stop it with `stop()`)."""
    cluster = LoopbackCluster(Path(tempfile.mkdtemp(prefix="lpray-", dir="/tmp")), _free_port())
    (cluster.temp_dir / "auth_token").write_text(secrets.token_hex(32))
    try:
        cluster.start_head()
        cluster.add_worker_node()
    except BaseException:
        cluster.stop(keep_logs=True)  # the error names nodes.log
        raise
    return cluster
