"""Start `localpose serve` in a child process on a free loopback port (for benchmarks and tests)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["free_port", "start_server_process"]

_MAIN = "import sys; from localpose.cli import main; sys.exit(main(sys.argv[1:]))"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    # A self-signed certificate is expected on loopback: do not verify it here.
    context = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2, context=context) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_server_process(
    args: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
) -> tuple[subprocess.Popen, str]:
    """Run `localpose serve --port FREE ARGS...` logging to `log`; wait until /readyz answers 200.

    Raises RuntimeError (with the log's tail) if the server exits or is not ready in time.
    """
    port = free_port()
    command = [sys.executable, "-c", _MAIN, "serve", "--port", str(port), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=dict(env or os.environ))
    scheme = "https" if "--certfile" in args else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        if _ready(url):
            return process, url
        time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError(f"server not ready after {timeout_s:g} s:\n{log.read_text()[-3000:]}")
