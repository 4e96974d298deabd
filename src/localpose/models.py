"""Finding, building, caching and verifying the pose model bundle, with no network.

The default model is MediaPipe's "full" BlazePose pair shipped inside the mediapipe
0.10.21 wheel, bundled once into ``<cache_dir>/pose_landmarker_full-<key>.task`` with a
manifest holding its sha256. Writes are atomic (temp file + rename), so concurrent first
runs cannot corrupt the cache; every load re-checks the hash and rebuilds on mismatch.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from localpose import engine
from localpose.errors import ModelUnavailableError
from localpose.options import ModelOptions

__all__ = ["BUNDLE_FORMAT", "ModelBundle", "load_model"]

log = logging.getLogger(__name__)

BUNDLE_FORMAT = 1
"""Bumped whenever `engine.build_task_bundle` changes its output for the same inputs."""


@dataclass(frozen=True)
class ModelBundle:
    """A verified PoseLandmarker bundle, held in memory."""

    data: bytes = field(repr=False)
    sha256: str
    name: str
    """'full' for the bundled model, else the .task file's stem."""
    source: str
    """Where the weights came from, for humans (`localpose doctor`)."""
    path: Path | None
    """The file on disk, or None when the cache was not writable."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_model(options: ModelOptions | None = None) -> ModelBundle:
    """Load the user's .task file, or the bundled full model from (or into) the cache."""
    options = options or ModelOptions()
    if options.task_file is not None:
        return _load_task_file(options.task_file)
    return _load_bundled(options.cache_dir)


def _load_task_file(path: Path) -> ModelBundle:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailableError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            names = set(bundle.namelist())
    except zipfile.BadZipFile:
        raise ModelUnavailableError(f"{path} is not a PoseLandmarker .task bundle (not a zip file)") from None
    missing = [n for n in engine.BUNDLE_ENTRIES if n not in names]
    if missing:
        raise ModelUnavailableError(
            f"{path} is not a PoseLandmarker .task bundle: missing {', '.join(missing)}"
        )
    return ModelBundle(data=data, sha256=_sha256(data), name=path.stem, source=f"file {path}", path=path)


def _load_bundled(cache_dir: Path) -> ModelBundle:
    files = engine.find_wheel_model_files()
    detector = files.detector.read_bytes()
    landmarks = files.landmarks.read_bytes()
    key = _sha256(f"{BUNDLE_FORMAT}:{_sha256(detector)}:{_sha256(landmarks)}".encode())[:16]
    path = cache_dir / f"pose_landmarker_full-{key}.task"
    manifest_path = path.with_suffix(".json")
    source = f"mediapipe {files.mediapipe_version} wheel ({files.landmarks.name}, {files.detector.name})"

    cached = _read_verified(path, manifest_path)
    if cached is not None:
        return ModelBundle(data=cached, sha256=_sha256(cached), name="full", source=source, path=path)

    data = engine.build_task_bundle(detector, landmarks)
    digest = _sha256(data)
    manifest = {
        "format": BUNDLE_FORMAT,
        "sha256": digest,
        "size": len(data),
        "mediapipe": files.mediapipe_version,
        "detector_sha256": _sha256(detector),
        "landmarks_sha256": _sha256(landmarks),
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, data)
        _write_atomic(manifest_path, json.dumps(manifest, indent=2).encode())
    except OSError as exc:
        log.warning("model cache %s is not writable (%s); using the model from memory", cache_dir, exc)
        return ModelBundle(data=data, sha256=digest, name="full", source=source, path=None)
    log.info("built model bundle %s (sha256 %s)", path, digest)
    return ModelBundle(data=data, sha256=digest, name="full", source=source, path=path)


def _read_verified(path: Path, manifest_path: Path) -> bytes | None:
    """The cached bundle if it exists and matches its manifest's hash, else None."""
    try:
        data = path.read_bytes()
        expected = json.loads(manifest_path.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _sha256(data) != expected:
        log.warning("cached model %s fails its hash check; rebuilding it", path)
        return None
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
