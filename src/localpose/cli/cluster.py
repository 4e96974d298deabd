"""`--ray [ADDRESS]` for `localpose image` and `localpose video`: run the work on a Ray cluster."""

from __future__ import annotations

import argparse
import logging

from localpose.cluster import RayOptions, require_ray

__all__ = ["add_ray_argument", "ray_options"]


def add_ray_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on Ray actors, one per CPU of the cluster: ADDRESS of a running cluster "
        "(auto, HOST:PORT), or none for Ray inside this process; put it after the inputs or "
        "write --ray=ADDRESS (needs localpose[ray])",
    )


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The Ray options asked for, or None; a one-line error when Ray is not installed."""
    if args.ray is None:
        return None
    require_ray()
    if not args.verbose:  # Ray's own notices (token authentication on, ...) only with -v
        logging.getLogger("ray").setLevel(logging.ERROR)
    return RayOptions(address=args.ray or None)
