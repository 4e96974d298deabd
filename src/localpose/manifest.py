"""Resumable output folders: a manifest of finished inputs, and files renamed into place when complete.

`localpose image` and `localpose video` (on one machine or on Ray) write every output under a
temporary name and rename it when it is complete (`atomic_path`), so an interrupted run never
leaves a half file under a final name, then append the input to the folder's manifest
(`.localpose/manifest.jsonl`, one JSON line per finished input). A re-run with the same
options skips inputs whose record matches the file (size and modification time) and whose
outputs are all present. Image poses are also kept losslessly (`.localpose/frames/*.npz`), so
the files built from every image (CSV, COCO) come out the same when most images are skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localpose.result import PoseFrame

__all__ = ["STATE_DIR", "Manifest", "atomic_path", "fingerprint"]

STATE_DIR = ".localpose"
"""The folder, inside an output folder, that holds the manifest and the kept poses."""


def fingerprint(*settings: object) -> str:
    """A short hash of everything that decides an output (options, model hash, formats)."""
    return hashlib.sha256(repr(settings).encode()).hexdigest()[:16]


def _partial_name(final: Path) -> Path:
    """A hidden name beside `final` that keeps its suffix (writers choose formats by suffix)."""
    return final.with_name(f".{final.stem}.partial{final.suffix}")


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path to write `final` to (a file or a folder); renamed onto `final` on success."""
    temporary = _partial_name(final)
    _remove(temporary)
    try:
        yield temporary
    except BaseException:
        _remove(temporary)
        raise
    if temporary.is_dir() and final.exists():
        _remove(final)
    os.replace(temporary, final)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Record:
    input: str
    size: int
    mtime_ns: int
    fingerprint: str
    outputs: tuple[str, ...]


class Manifest:
    """The finished inputs of one output folder for one set of options (`fingerprint`)."""

    def __init__(self, out_dir: Path, settings: str) -> None:
        self.out_dir, self.settings = Path(out_dir), settings
        self.state = self.out_dir / STATE_DIR
        self.path = self.state / "manifest.jsonl"
        self._records: dict[str, _Record] = {}
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    data = json.loads(line)
                    data["outputs"] = tuple(data["outputs"])
                    record = _Record(**data)
                    self._records[record.input] = record

    @staticmethod
    def _key(source: Path) -> str:
        return str(Path(source).resolve())

    def finished(self, source: Path, outputs: Sequence[Path]) -> bool:
        """Whether `source` was finished with these settings, `outputs` among its files, all in place."""
        record = self._records.get(self._key(source))
        if record is None or record.fingerprint != self.settings:
            return False
        stat = Path(source).stat()
        same_file = (record.size, record.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
        wanted = {str(Path(p).relative_to(self.out_dir)) for p in outputs}
        present = all((self.out_dir / p).exists() for p in record.outputs)
        return same_file and wanted <= set(record.outputs) and present

    def add(self, source: Path, outputs: Sequence[Path]) -> None:
        """Record `source` as finished (call after its outputs are renamed into place)."""
        stat = Path(source).stat()
        rel = tuple(str(Path(p).relative_to(self.out_dir)) for p in outputs)
        record = _Record(self._key(source), stat.st_size, stat.st_mtime_ns, self.settings, rel)
        self._records[record.input] = record
        self.state.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as stream:
            stream.write(json.dumps(record.__dict__, separators=(",", ":")) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    # --- image poses, kept losslessly for the files built from every image ---------------

    def _frame_path(self, name: str) -> Path:
        return self.state / "frames" / f"{name}.npz"

    def keep_frame(self, name: str, frame: PoseFrame) -> Path:
        """Store `frame` under `name` (written whole, then renamed); returns the file."""
        path = self._frame_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {key: getattr(frame, key) for key in ("xy", "z", "visibility", "presence", "world", "score")}
        if frame.track_id is not None:
            arrays["track_id"] = frame.track_id
        if frame.masks is not None:
            arrays["masks"] = frame.masks
        flags = json.dumps([list(f) for f in frame.flags] if frame.flags is not None else None)
        with atomic_path(path) as temporary, temporary.open("wb") as stream:
            np.savez(
                stream,
                image_size=np.array(frame.image_size),
                timestamp_ms=np.array(frame.timestamp_ms),
                flags=np.array(flags),
                **arrays,
            )
        return path

    def kept_frame(self, name: str) -> PoseFrame:
        """The frame stored by `keep_frame` (exactly as it was)."""
        with np.load(self._frame_path(name), allow_pickle=False) as data:
            flags = json.loads(str(data["flags"]))
            return PoseFrame(
                image_size=(int(data["image_size"][0]), int(data["image_size"][1])),
                xy=data["xy"],
                z=data["z"],
                visibility=data["visibility"],
                presence=data["presence"],
                world=data["world"],
                score=data["score"],
                track_id=data.get("track_id"),
                timestamp_ms=float(data["timestamp_ms"]),
                masks=data.get("masks"),
                flags=None if flags is None else tuple(tuple(f) for f in flags),
            )
