"""Helpers for the fault suite: raw HTTP over a socket, the processes under a pid, their memory."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def raw_request(
    url: str, data: bytes, pace_s: float = 0.0, chunk: int = 0, timeout_s: float = 15.0
) -> RawReply:
    """Send `data` as is (optionally `chunk` bytes every `pace_s` s) and read one HTTP reply."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s) as sock:
        try:
            if chunk:
                for k in range(0, len(data), chunk):
                    sock.sendall(data[k : k + chunk])
                    time.sleep(pace_s)
            else:
                sock.sendall(data)
        except OSError:  # the server answered and closed while we were still sending
            pass
        received = b""
        while b"\r\n\r\n" not in received:
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            body += piece
    return RawReply(int(lines[0].split()[1]), headers, body)


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process now."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int) -> set[int]:
    """Every live process started (directly or not) by `pid`."""
    table = processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (parent, state) in table.items() if parent in frontier and state != "Z"}
        frontier -= found
        found |= frontier
    return found


def still_running(pids: set[int]) -> set[int]:
    table = processes()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def wait_gone(pids: set[int], timeout_s: float) -> set[int]:
    """Wait until none of `pids` runs (zombies count as gone); those still running then."""
    deadline = time.monotonic() + timeout_s
    while still_running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return still_running(pids)


def folder_bytes(folder: Path) -> int:
    """Bytes in the files under `folder` now, while files and folders come and go."""
    total = 0
    with contextlib.suppress(OSError):  # a folder went while it was walked
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):  # removed since it was listed
                total += path.stat().st_size if path.is_file() else 0
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "xYzBoundary") -> tuple[bytes, str]:
    """A multipart/form-data body of (name, filename, data) parts, and its content type."""
    out = []
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


@dataclass
class Tally:
    """Statuses seen over the cases of the suite."""

    statuses: dict[int, int] = field(default_factory=dict)
    cases: int = 0

    def add(self, status: int) -> None:
        self.cases += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
