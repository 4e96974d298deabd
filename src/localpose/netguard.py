"""Proof of offline operation: make any outgoing network use from Python fail loudly."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["NetworkBlockedError", "forbid_network"]

_BLOCKED_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.sendto",
        "socket.sendmsg",
        "urllib.Request",
    }
)
_installed = False


class NetworkBlockedError(PermissionError):
    """Raised when code tries to reach the network while it is forbidden."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in _BLOCKED_EVENTS:
        address = args[1] if event == "socket.connect" and len(args) > 1 else args[:1]
        if event == "socket.connect" and isinstance(address, (str, bytes)):
            return  # AF_UNIX sockets are local inter-process pipes, not network
        raise NetworkBlockedError(f"network use blocked by localpose ({event} {address!r})")


def forbid_network() -> None:
    """From now on, in this process, every Python-level network attempt raises.

    Audit hooks cannot be removed, so call this only in processes that must stay offline
    (`localpose doctor`, the offline test). Native code is not covered; the offline test
    also runs in a network namespace where one is available.
    """
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True
