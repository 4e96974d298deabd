"""Keep MediaPipe's native (absl/glog/TFLite) chatter off the user's terminal.

Those lines are written by C++ straight to file descriptor 2, so Python logging cannot
silence them. We point fd 2 at a pipe and a thread forwards everything except routine
native INFO/WARNING lines to the real stderr; errors (E/F lines) and our own output pass.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading

from localpose.nativelog import ROUTINE as _ROUTINE

__all__ = ["filter_native_stderr", "native_stdout_to_stderr", "stderr_columns", "stderr_is_terminal"]

_state: dict[str, int | bool] = {"installed": False, "real_fd": 2}


def _forward(read_fd: int, real_fd: int) -> None:
    pending = b""
    while chunk := os.read(read_fd, 65536):
        pieces = (pending + chunk).splitlines(keepends=True)
        pending = b""
        if pieces and not pieces[-1].endswith((b"\n", b"\r")) and pieces[-1][:1] in (b"I", b"W"):
            # Native code can write a log line in parts ("INFO: " then the text): wait for the rest.
            pending = pieces.pop()
        kept = b"".join(piece for piece in pieces if not _ROUTINE.match(piece))
        if kept:
            os.write(real_fd, kept)
    if pending and not _ROUTINE.match(pending):
        os.write(real_fd, pending)


@contextlib.contextmanager
def native_stdout_to_stderr():
    """While inside, what native code prints on fd 1 goes to stderr (stdout stays for data)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def filter_native_stderr() -> None:
    """From now on, drop routine native log lines written to this process's stderr."""
    if _state["installed"]:
        return
    try:
        sys.stderr.flush()
        real_fd = os.dup(2)
        read_fd, write_fd = os.pipe()
    except (OSError, ValueError):
        return
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _state["real_fd"] = real_fd
    forwarder = threading.Thread(target=_forward, args=(read_fd, real_fd), daemon=True, name="native-log")
    forwarder.start()
    _state["installed"] = True

    def restore() -> None:
        """At exit: put the real stderr back, which closes the pipe, and let the thread drain it."""
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(real_fd, 2)
        forwarder.join(timeout=2)

    atexit.register(restore)


def stderr_is_terminal() -> bool:
    """Whether the user's stderr (behind the filter's pipe, if installed) is a terminal."""
    try:
        return os.isatty(int(_state["real_fd"]))
    except OSError:
        return False


def stderr_columns() -> int | None:
    """The width of the user's terminal on stderr, or None when it is not a terminal."""
    try:
        columns = os.get_terminal_size(int(_state["real_fd"])).columns
    except OSError:
        return None
    return columns or None  # a terminal that does not say its size reports 0
