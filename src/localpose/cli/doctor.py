"""`localpose doctor`: versions, where the model came from, and an inference with networking off."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from localpose import __version__
from localpose.cli.common import add_model_arguments, add_runtime_argument, model_options

__all__ = ["register", "sample_image_path"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check the installation and prove inference works offline",
        description="Print versions and the model's origin and sha256, then block all network "
        "access in this process and run one inference.",
    )
    parser.add_argument(
        "--image",
        type=Path,
        help="image to test with (default: the portrait shipped with matplotlib when it is installed, "
        "else a blank image)",
    )
    add_runtime_argument(parser)
    add_model_arguments(parser)
    parser.set_defaults(handler=run)


def sample_image_path() -> Path | None:
    """A photo of a person where matplotlib is installed (its sample portrait of Grace Hopper), else None."""
    from importlib.util import find_spec

    spec = find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data/sample_data/grace_hopper.jpg"
    return path if path.is_file() else None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    from localpose.engine import resolve_runtime
    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK
    from localpose.estimate import PoseEstimator
    from localpose.models import load_model
    from localpose.netguard import forbid_network
    from localpose.options import EstimatorOptions

    print(f"localpose      {__version__}")
    print(f"python         {platform.python_version()} ({sys.executable})")
    print(f"platform       {platform.platform()}")
    packages = ("ai-edge-litert", "numpy", "opencv-python-headless", "pillow", "av", "fastapi", "mediapipe")
    for package in packages:
        print(f"{package:<14} {_version(package)}")
    forbid_network()
    print("network        blocked for the rest of this check")
    options = model_options(args)
    started = time.perf_counter()
    model = load_model(options)
    print(f"model          {model.name} ({model.family}, {model.skeleton}): {model.source}")
    print(f"model files    {model.path or 'package data (localpose/weights)'}")
    for role, digest in model.network_sha256.items():
        print(f"  {role:<12} sha256 {digest}")
    elapsed = 1000 * (time.perf_counter() - started)
    print(f"model load     {elapsed:.0f} ms, hashes checked (cache {options.cache_dir})")
    image = args.image or sample_image_path()
    runtime = resolve_runtime(args.runtime)
    print(f"runtime        {runtime}")
    with PoseEstimator(EstimatorOptions(runtime=runtime), model=model) as estimator:
        if image is None:
            import numpy as np

            frame = estimator.estimate(np.zeros((256, 256, 3), dtype=np.uint8))
            print(
                "inference      ok on a blank image (no sample photo found): 0 people expected, "
                f"{len(frame)} found"
            )
            return EXIT_OK
        estimator.estimate(image)  # first call includes graph warm-up
        started = time.perf_counter()
        frame = estimator.estimate(image)
        elapsed = 1000 * (time.perf_counter() - started)
    print(f"inference      {len(frame)} person(s) in {image} in {elapsed:.0f} ms, network blocked")
    if len(frame) == 0:
        print("doctor: expected at least one person in the test image", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    print("doctor: all good")
    return EXIT_OK
