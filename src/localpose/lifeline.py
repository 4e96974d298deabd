"""Worker processes end when the process that started them is gone.

A parent killed with SIGKILL (the out-of-memory killer, a crash) runs no clean-up, so its
workers would be left running, each holding a model. `watch_parent` starts a daemon thread
in the worker that ends the worker once its parent process has changed.
"""

from __future__ import annotations

import os
import threading

__all__ = ["watch_parent"]


def watch_parent(interval_s: float = 0.5) -> None:
    """End this process (exit status 1) within about `interval_s` of its parent's death."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(interval_s)
        os._exit(1)  # the parent is gone: nobody can use what this process computes

    threading.Thread(target=watch, name="localpose-lifeline", daemon=True).start()
