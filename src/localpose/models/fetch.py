"""`localpose models fetch NAME`: a known model through an ordinary package client, by name.

The one place localpose reaches the network, and only when a user asks. The model card says
which package carries the network (e.g. the npm package ``@mediapipe/pose``, Apache-2.0); the
package client (``npm pack``) fetches its archive into a temporary folder, the archive's and
the network's sha256 are checked against the card, and the network goes into the cache.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from localpose.errors import InvalidOptionError, ModelUnavailableError
from localpose.models.registry import registry
from localpose.models.store import ModelBundle, add_model, sha256

__all__ = ["fetch_model", "npm_pack"]

PackageClient = Callable[[str, str, Path], Path]
"""(package, version, folder) -> the package archive fetched into folder."""


def npm_pack(package: str, version: str, folder: Path) -> Path:
    """`npm pack PACKAGE@VERSION` into `folder`; the archive's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelUnavailableError(
            "localpose models fetch needs npm on PATH (e.g. apt-get install npm); or copy the model file "
            "from a machine that has it and run `localpose models add FILE`"
        )
    try:
        result = subprocess.run(
            [npm, "pack", f"{package}@{version}", "--pack-destination", str(folder), "--silent"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelUnavailableError(f"npm pack {package}@{version} took over 10 minutes; try again") from None
    archives = sorted(folder.glob("*.tgz"))
    if result.returncode != 0 or not archives:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelUnavailableError(f"npm pack {package}@{version} failed: {last}")
    return archives[0]


def fetch_model(name: str, cache_dir: Path, client: PackageClient | None = None) -> ModelBundle:
    """Fetch the known model `name` whose networks are not shipped, check it, store it in the cache."""
    reg = registry()
    card = reg.models.get(name)
    if card is None:
        raise InvalidOptionError(f"unknown model {name!r}; known models: {', '.join(reg.models)}")
    missing = [reg.networks[n] for n in card.networks.values() if not reg.networks[n].shipped]
    if not missing:
        raise InvalidOptionError(f"model {name!r} ships with localpose; there is nothing to fetch")
    (network,) = missing  # every fetchable model today adds one landmark network to shipped ones
    origin = network.origin
    if origin["client"] != "npm":
        raise ModelUnavailableError(f"no package client for {origin['client']!r}")
    with tempfile.TemporaryDirectory(prefix="localpose-fetch-") as tmp:
        archive = (client or npm_pack)(origin["package"], origin["version"], Path(tmp))
        digest = sha256(archive.read_bytes())
        if digest != origin["archive_sha256"]:
            raise ModelUnavailableError(
                f"{origin['package']}@{origin['version']} does not have the expected sha256 "
                f"({digest[:12]}..., expected {origin['archive_sha256'][:12]}...): not stored"
            )
        try:
            with tarfile.open(archive, mode="r:gz") as package:
                member = package.extractfile(origin["path"])
                data = member.read() if member is not None else b""
        except (tarfile.TarError, KeyError, OSError) as exc:
            raise ModelUnavailableError(f"{archive.name} has no readable {origin['path']}: {exc}") from None
    if sha256(data) != network.sha256:
        raise ModelUnavailableError(
            f"{origin['path']} in {archive.name} does not match its model card: not stored"
        )
    source = f"fetched {origin['package']} {origin['version']} ({origin['path']}) with {origin['client']}"
    return add_model(data, cache_dir, name, source, file_name=Path(origin["path"]).name)
