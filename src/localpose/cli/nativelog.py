"""Keep MediaPipe's native (absl/glog/TFLite) chatter off the user's terminal.

Those lines are written by C++ straight to file descriptor 2, so Python logging cannot
silence them. We point fd 2 at a pipe, give Python's own `sys.stderr` a duplicate of
the real terminal, and a thread forwards native lines except routine INFO/WARNING ones.
"""

from __future__ import annotations

import os
import re
import sys
import threading

__all__ = ["filter_native_stderr"]

_ROUTINE = re.compile(rb"^(?:[IW]\d{4} |INFO: |WARNING: All log messages before absl::InitializeLog)")


def _forward(read_fd: int, real_fd: int) -> None:
    with os.fdopen(read_fd, "rb") as pipe:
        for line in pipe:
            if not _ROUTINE.match(line):
                os.write(real_fd, line)


def filter_native_stderr() -> None:
    """Drop routine native log lines from now on; errors (E/F lines) still get through."""
    try:
        sys.stderr.flush()
        real_fd = os.dup(2)
        read_fd, write_fd = os.pipe()
    except OSError:
        return
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stderr = os.fdopen(os.dup(real_fd), "w", buffering=1, encoding="utf-8", errors="replace")
    threading.Thread(target=_forward, args=(read_fd, real_fd), daemon=True, name="native-log").start()
