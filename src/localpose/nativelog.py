"""Routine native log lines (TFLite, absl, glog) kept off the user's stderr.

C++ libraries write them straight to file descriptor 2, so Python logging cannot silence
them. `hide_routine_native_lines` catches fd 2 for the length of a block (e.g. while a
LiteRT interpreter is built, which prints "INFO: Created TensorFlow Lite XNNPACK delegate")
and writes back everything that is not routine: errors and warnings of our own still show.
The CLI filters its whole process the same way (`localpose.cli.nativelog`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

__all__ = ["ROUTINE", "hide_routine_native_lines", "routine"]

ROUTINE = re.compile(
    rb"^(?:[IW]\d{4} |INFO: |WARNING: All log messages before absl::InitializeLog"
    # Ray's note that an actor's arguments live in the object store: localpose.cluster keeps
    # them there on purpose (the model, owned by the driver, for restarted actors).
    rb"|\[[^\]]* E \d+ \d+\] core_worker\.cc:\d+: Actor with class name: '_Runner')"
)
"""Native INFO/WARNING lines (glog/absl "I0000 ...", TFLite "INFO: ...") and Ray's expected
note about actor arguments: noise for users."""

_lock = threading.Lock()


def routine(line: bytes) -> bool:
    """Whether one line of native output is routine chatter."""
    return bool(ROUTINE.match(line))


@contextlib.contextmanager
def hide_routine_native_lines() -> Iterator[None]:
    """Within the block, native output to fd 2 is held back; its non-routine lines follow it."""
    with _lock, tempfile.TemporaryFile() as held:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): nothing to hide
            yield
            return
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = b"".join(line for line in held.read().splitlines(keepends=True) if not routine(line))
            if kept:
                os.write(2, kept)
