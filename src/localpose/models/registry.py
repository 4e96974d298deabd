"""The model registry: every network and model localpose knows, read from `weights/models.json`.

A *network* is one tflite file with its model card (task, input, outputs, licence, origin,
size, sha256); a *model* is what a user chooses by name (``full``, ``lite``, ``heavy``): a
family's pipeline and the networks it runs, by role (``detector``, ``landmarks``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["ModelCard", "NetworkCard", "Registry", "registry"]

REGISTRY_FORMAT = 1


@dataclass(frozen=True)
class NetworkCard:
    """One known network file."""

    name: str
    family: str
    task: str
    file: str
    shipped: bool
    """Whether the file is package data (else it is added to the model cache)."""
    licence: str
    size: int
    sha256: str
    origin: Mapping[str, Any] = field(repr=False)
    """Where the file comes from: package, client (pip, npm), version, path inside it."""
    input: Mapping[str, Any] = field(repr=False, default_factory=dict)
    outputs: tuple[Mapping[str, Any], ...] = field(repr=False, default=())


@dataclass(frozen=True)
class ModelCard:
    """One model a user can choose by name."""

    name: str
    family: str
    skeleton: str
    networks: Mapping[str, str]
    """Network name by role."""
    summary: str
    default: bool = False


@dataclass(frozen=True)
class Registry:
    networks: Mapping[str, NetworkCard]
    models: Mapping[str, ModelCard]

    @property
    def default(self) -> ModelCard:
        return next(m for m in self.models.values() if m.default)

    def network_by_sha256(self, digest: str) -> NetworkCard | None:
        """The known network whose file has this sha256, if any."""
        return next((n for n in self.networks.values() if n.sha256 == digest), None)

    def shipped(self, model: ModelCard) -> bool:
        """Whether every network of `model` ships inside the package."""
        return all(self.networks[n].shipped for n in model.networks.values())


@cache
def registry() -> Registry:
    """The registry shipped with this localpose (read once per process)."""
    text = resources.files("localpose").joinpath("weights", "models.json").read_text(encoding="utf-8")
    document = json.loads(text)
    if document["format"] != REGISTRY_FORMAT:
        raise RuntimeError(f"localpose/weights/models.json has format {document['format']!r}")
    networks = {
        n["name"]: NetworkCard(
            name=n["name"],
            family=n["family"],
            task=n["task"],
            file=n["file"],
            shipped=bool(n["shipped"]),
            licence=n["licence"],
            size=int(n["size"]),
            sha256=n["sha256"],
            origin=n["origin"],
            input=n["input"],
            outputs=tuple(n["outputs"]),
        )
        for n in document["networks"]
    }
    models = {
        m["name"]: ModelCard(
            name=m["name"],
            family=m["family"],
            skeleton=m["skeleton"],
            networks=m["networks"],
            summary=m["summary"],
            default=bool(m["default"]),
        )
        for m in document["models"]
    }
    return Registry(networks, models)
