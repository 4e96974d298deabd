"""Benchmarks behind `localpose bench`: side-by-side runs in one process tree, JSON results."""

from __future__ import annotations

from pathlib import Path

__all__ = ["shared_data"]


def shared_data(relative: str) -> Path | None:
    """`../shared/data/<relative>` beside the working directory or the checkout, if it exists."""
    for root in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = root.parent / "shared" / "data" / relative
        if candidate.exists():
            return candidate
    return None
