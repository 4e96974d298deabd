"""Benchmarks behind `localpose bench`: side-by-side runs in one process tree, JSON results."""

from __future__ import annotations

from pathlib import Path

from localpose.images import image_files

__all__ = ["photos", "shared_data"]


def photos(folder: Path | None, count: int) -> list[Path]:
    """`count` image files from `folder`, its photos repeated in order as needed (empty if none)."""
    found = image_files(folder) if folder is not None and folder.is_dir() else []
    return [found[k % len(found)] for k in range(count)] if found else []


def shared_data(relative: str) -> Path | None:
    """`../shared/data/<relative>` beside the working directory or the checkout, if it exists."""
    for root in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = root.parent / "shared" / "data" / relative
        if candidate.exists():
            return candidate
    return None
