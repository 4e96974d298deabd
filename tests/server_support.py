"""A real `localpose serve` process on a free loopback port, for the API and browser tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from localpose.server.launch import start_server_process

START_TIMEOUT_S = 90.0


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    tmpdir: Path
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(model_cache: Path, workdir: Path, extra: Sequence[str] = ()) -> RunningServer:
    """Start the server with TMPDIR inside `workdir` and wait until /readyz says ready."""
    tmpdir = workdir / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "server.log"
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    env.pop("LOCALPOSE_API_KEY", None)
    args = ["--model-cache", str(model_cache), *extra]
    process, url = start_server_process(args, log, env, timeout_s=START_TIMEOUT_S)
    return RunningServer(url, process, tmpdir, log)
