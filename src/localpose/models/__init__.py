"""Models: the registry of known networks, loading by name or file, and the model cache.

`load_model` turns `ModelOptions` into a verified `ModelBundle`; `installed_models` lists
what is here; `add_model` and `fetch_model` (models.fetch, the one module that may reach the
network, and only through a package client on request) put more into the cache.
"""

from localpose.models.registry import ModelCard, NetworkCard, Registry, registry
from localpose.models.store import (
    BUNDLE_ENTRIES,
    InstalledModel,
    ModelBundle,
    add_model,
    installed_models,
    load_model,
    model_choices,
    sha256,
    shipped_network,
)

__all__ = [
    "BUNDLE_ENTRIES",
    "InstalledModel",
    "ModelBundle",
    "ModelCard",
    "NetworkCard",
    "Registry",
    "add_model",
    "installed_models",
    "load_model",
    "model_choices",
    "registry",
    "sha256",
    "shipped_network",
]
