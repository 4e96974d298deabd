"""Loading models by name or file, and the model cache: atomic, hash-checked, no network.

Shipped networks are package data (`localpose/weights`), checked against their model cards on
every load. Models added later (`add_model`, `localpose models fetch`) live in the cache as
``<cache_dir>/models/<name>/`` with a ``manifest.json`` holding each file's sha256; every write
goes to a temporary file and is renamed into place, and every load re-checks the hashes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from localpose.errors import InvalidOptionError, ModelUnavailableError
from localpose.models.registry import ModelCard, NetworkCard, registry
from localpose.options import ModelOptions

__all__ = [
    "BUNDLE_ENTRIES",
    "InstalledModel",
    "ModelBundle",
    "add_model",
    "installed_models",
    "load_model",
    "model_choices",
    "sha256",
    "shipped_network",
]

BUNDLE_ENTRIES = {"detector": "pose_detector.tflite", "landmarks": "pose_landmarks_detector.tflite"}
"""Role -> file name inside a PoseLandmarker ``.task`` bundle."""
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ModelBundle:
    """A verified model, held in memory: its networks by role and where they came from."""

    name: str
    family: str
    """The pipeline that runs it ('blazepose')."""
    skeleton: str
    """The keypoints it gives ('blazepose33')."""
    networks: Mapping[str, bytes] = field(repr=False)
    """tflite bytes by role ('detector', 'landmarks')."""
    source: str
    """Where the weights came from, for humans (`localpose doctor`, /api/v1/info)."""
    task_bundle: bytes | None = field(default=None, repr=False)
    """The user's own PoseLandmarker .task file, when the model came from one (MediaPipe Tasks
    runs it as it is; otherwise a bundle is built from `networks`)."""
    path: Path | None = None
    """The file or cache folder it was read from, or None for shipped weights."""

    @property
    def network_sha256(self) -> dict[str, str]:
        return {role: sha256(data) for role, data in self.networks.items()}

    @property
    def sha256(self) -> str:
        """One digest for the whole model (over its networks' digests, by role)."""
        digests = self.network_sha256
        return sha256("".join(f"{role}:{digests[role]}\n" for role in sorted(digests)).encode())


@dataclass(frozen=True)
class InstalledModel:
    """A model as `localpose models list` and /api/v1/info show it."""

    name: str
    family: str
    skeleton: str
    summary: str
    installed: bool
    shipped: bool
    default: bool
    files: tuple[dict[str, object], ...]
    """Per network: role, file, size, sha256 (the card's, or the added file's)."""
    source: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "family": self.family,
            "skeleton": self.skeleton,
            "summary": self.summary,
            "installed": self.installed,
            "shipped": self.shipped,
            "default": self.default,
            "size": sum(int(f["size"]) for f in self.files),  # type: ignore[call-overload]
            "files": list(self.files),
            "source": self.source,
        }


# -- loading ---------------------------------------------------------------------------------


def load_model(options: ModelOptions | None = None) -> ModelBundle:
    """The model `options` names (registry name, cache entry or file), verified, in memory."""
    options = options or ModelOptions()
    path = options.model_path
    if path is not None:
        return _load_file(path)
    name = str(options.model)
    reg = registry()
    card = reg.models.get(name)
    if card is not None and reg.shipped(card):
        return _load_shipped(card)
    folder = _model_folder(options.cache_dir, name)
    if (folder / MANIFEST).is_file():
        return _load_cached(folder)
    if card is not None:
        raise ModelUnavailableError(
            f"model {name!r} is not installed in {options.cache_dir}: run `localpose models fetch {name}` "
            f"(needs npm on PATH), or `localpose models add FILE` with its .task or .tflite file"
        )
    raise InvalidOptionError(
        f"unknown model {name!r}; choose from {', '.join(model_choices(options.cache_dir))}"
    )


def model_choices(cache_dir: Path) -> list[str]:
    """Names `load_model` accepts here: installed models first, then known ones to fetch."""
    return [m.name for m in sorted(installed_models(cache_dir), key=lambda m: not m.installed)]


def _shipped_bytes(card: NetworkCard) -> bytes:
    try:
        data = resources.files("localpose").joinpath("weights", card.file).read_bytes()
    except OSError as exc:
        raise ModelUnavailableError(
            f"localpose's weight file weights/{card.file} is missing ({exc.strerror or exc}): "
            "reinstall localpose (pip install --force-reinstall localpose)"
        ) from exc
    digest = sha256(data)
    if digest != card.sha256:
        raise ModelUnavailableError(
            f"localpose's weight file weights/{card.file} is damaged ({len(data)} bytes, sha256 "
            f"{digest[:12]}..., expected {card.size} bytes, {card.sha256[:12]}...): reinstall localpose "
            "(pip install --force-reinstall localpose)"
        )
    return data


def shipped_network(name: str) -> bytes:
    """The bytes of a shipped network by its registry name, checked against its card."""
    networks = registry().networks
    if name not in networks or not networks[name].shipped:
        shipped = ", ".join(n for n, card in networks.items() if card.shipped)
        raise ModelUnavailableError(f"no shipped network named {name!r}; shipped: {shipped}")
    return _shipped_bytes(networks[name])


def _load_shipped(card: ModelCard) -> ModelBundle:
    networks = registry().networks
    data = {role: _shipped_bytes(networks[name]) for role, name in card.networks.items()}
    origins = sorted({_origin_text(networks[name]) for name in card.networks.values()})
    return ModelBundle(
        card.name, card.family, card.skeleton, data, "shipped with localpose (" + "; ".join(origins) + ")"
    )


def _origin_text(card: NetworkCard) -> str:
    origin = card.origin
    return f"{origin['package']} {origin['version']}"


def _load_file(path: Path) -> ModelBundle:
    """A user's own .task bundle or bare landmark .tflite (paired with the shipped detector)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailableError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    networks, task_bundle = _networks_in(data, path)
    name = _name_from_file(path)
    return ModelBundle(name, "blazepose", "blazepose33", networks, f"file {path}", task_bundle, path)


def _networks_in(data: bytes, path: Path) -> tuple[dict[str, bytes], bytes | None]:
    """(networks by role, the .task bytes or None) of a .task bundle or a bare landmark tflite."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                names = set(bundle.namelist())
                missing = [n for n in BUNDLE_ENTRIES.values() if n not in names]
                if missing:
                    raise ModelUnavailableError(
                        f"{path} is not a PoseLandmarker .task bundle: missing {', '.join(missing)}"
                    )
                networks = {role: bundle.read(entry) for role, entry in BUNDLE_ENTRIES.items()}
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ModelUnavailableError(f"{path} is a damaged .task bundle ({exc}): copy it again") from None
        _check_tflite(networks["landmarks"], path)
        _check_tflite(networks["detector"], path)
        return networks, data
    _check_tflite(data, path)
    return {"detector": _shipped_bytes(registry().networks["blazepose-detector"]), "landmarks": data}, None


def _check_tflite(data: bytes, path: Path) -> None:
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelUnavailableError(
            f"{path} is neither a PoseLandmarker .task bundle nor a .tflite network (or it is truncated)"
        )


def _name_from_file(path: Path) -> str:
    """'heavy' for pose_landmarker_heavy.task or pose_landmark_heavy.tflite, else the file's stem."""
    stem = path.stem.lower()
    for prefix in ("pose_landmarker_", "pose_landmark_"):
        if stem.startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix) :]
    return stem


# -- the cache -------------------------------------------------------------------------------


def _model_folder(cache_dir: Path, name: str) -> Path:
    return cache_dir / "models" / name


def _load_cached(folder: Path) -> ModelBundle:
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
        networks = {role: (folder / entry["file"]).read_bytes() for role, entry in files.items()}
        task = folder / manifest["task_bundle"] if manifest.get("task_bundle") else None
        task_bundle = task.read_bytes() if task is not None else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(
            f"model cache entry {folder} is incomplete ({exc}): add or fetch the model again "
            f"(`localpose models add FILE` or `localpose models fetch {folder.name}`)"
        ) from None
    for role, entry in files.items():
        digest = sha256(networks[role])
        if digest != entry["sha256"]:
            raise ModelUnavailableError(
                f"{folder / entry['file']} fails its hash check (sha256 {digest[:12]}..., expected "
                f"{entry['sha256'][:12]}...): the file was altered or truncated; add or fetch the model "
                f"again (`localpose models add FILE` or `localpose models fetch {folder.name}`)"
            )
    if task_bundle is not None and sha256(task_bundle) != manifest["task_bundle_sha256"]:
        raise ModelUnavailableError(
            f"{task} fails its hash check: add the model again (`localpose models add FILE`)"
        )
    return ModelBundle(
        manifest["name"],
        manifest["family"],
        manifest["skeleton"],
        networks,
        manifest["source"],
        task_bundle,
        folder,
    )


def add_model(
    data: bytes, cache_dir: Path, name: str | None = None, origin: str = "", file_name: str = "model"
) -> ModelBundle:
    """Check a .task bundle or bare landmark .tflite and store it in the cache as model `name`.

    A file whose landmark network is a known one (by sha256) is stored under that model's
    name; any other must load in LiteRT as a BlazePose landmark network and needs a name
    that is not a shipped model's. Returns the stored model, loaded back from the cache.
    """
    source_path = Path(file_name)
    networks, task_bundle = _networks_in(data, source_path)
    reg = registry()
    known = reg.network_by_sha256(sha256(networks["landmarks"]))
    by_network = next(
        (
            m
            for m in reg.models.values()
            if known
            and m.family == "blazepose"
            and m.networks["landmarks"] == known.name
            and not reg.shipped(m)
        ),
        None,
    )  # a known network that is not shipped (heavy) takes its model's name
    chosen = name or (by_network.name if by_network else _name_from_file(source_path))
    if not _NAME.match(chosen):
        raise InvalidOptionError(
            f"model names are lower-case letters, digits, '.', '_' and '-', got {chosen!r}"
        )
    card = reg.models.get(chosen)
    if card is not None and reg.shipped(card):
        raise InvalidOptionError(f"{chosen!r} ships with localpose; give the added model another --name")
    _check_runs(networks)
    verified = known is not None and (card is None or card.networks.get("landmarks") == known.name)
    source = origin or f"added from {source_path.name}"
    source += (
        " (sha256 matches the registry's model card)"
        if verified
        else " (structure checked; not in the registry)"
    )
    folder = _model_folder(cache_dir, chosen)
    files = {
        role: {"file": f"{role}.tflite", "sha256": sha256(blob), "size": len(blob)}
        for role, blob in networks.items()
    }
    manifest: dict[str, object] = {
        "format": MANIFEST_FORMAT,
        "name": chosen,
        "family": "blazepose",
        "skeleton": "blazepose33",
        "source": source,
        "files": files,
    }
    blobs = {f"{role}.tflite": blob for role, blob in networks.items()}
    if task_bundle is not None:
        manifest["task_bundle"] = "model.task"
        manifest["task_bundle_sha256"] = sha256(task_bundle)
        blobs["model.task"] = task_bundle
    _write_folder(folder, blobs, manifest)
    return _load_cached(folder)


def _check_runs(networks: Mapping[str, bytes]) -> None:
    """Refuse networks LiteRT cannot load or that are not BlazePose's (by their outputs)."""
    from localpose.blazepose.detector import detector_roles
    from localpose.blazepose.landmarks import landmark_roles
    from localpose.runtime.litert import TFLiteNetwork

    landmarks = TFLiteNetwork(networks["landmarks"])
    landmark_roles(landmarks.output_shapes, landmarks.input_size)
    detector_roles(TFLiteNetwork(networks["detector"]).output_shapes)


def _write_folder(folder: Path, blobs: Mapping[str, bytes], manifest: Mapping[str, object]) -> None:
    """Write the files into a temporary sibling folder, then swap it in (the manifest last)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        for file_name, blob in blobs.items():
            _write_synced(staging / file_name, blob)
        _write_synced(staging / MANIFEST, json.dumps(manifest, indent=2).encode())
        old = folder.with_name(f".{folder.name}.old.{os.getpid()}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def installed_models(cache_dir: Path) -> list[InstalledModel]:
    """Every model known or installed here: the registry's models, then models added by hand."""
    reg = registry()
    out = []
    for card in reg.models.values():
        shipped = reg.shipped(card)
        folder = _model_folder(cache_dir, card.name)
        cached = _read_manifest(folder)
        if shipped or cached is None:
            files = tuple(
                {
                    "role": role,
                    "file": reg.networks[n].file,
                    "size": reg.networks[n].size,
                    "sha256": reg.networks[n].sha256,
                }
                for role, n in card.networks.items()
            )
            source = (
                "shipped with localpose" if shipped else "not installed: localpose models fetch " + card.name
            )
        else:
            files = _manifest_files(cached)
            source = str(cached["source"])
        out.append(
            InstalledModel(
                card.name,
                card.family,
                card.skeleton,
                card.summary,
                shipped or cached is not None,
                shipped,
                card.default,
                files,
                source,
            )
        )
    models_dir = cache_dir / "models"
    extra = sorted(p for p in models_dir.iterdir() if p.name not in reg.models) if models_dir.is_dir() else []
    for folder in extra:
        cached = _read_manifest(folder)
        if cached is not None:
            out.append(
                InstalledModel(
                    folder.name,
                    str(cached["family"]),
                    str(cached["skeleton"]),
                    "added by hand",
                    True,
                    False,
                    False,
                    _manifest_files(cached),
                    str(cached["source"]),
                )
            )
    return out


def _read_manifest(folder: Path) -> dict[str, object] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT else None


def _manifest_files(manifest: Mapping[str, object]) -> tuple[dict[str, object], ...]:
    files = manifest["files"]
    assert isinstance(files, dict)
    return tuple({"role": role, **entry} for role, entry in files.items())
