"""Options shared by several subcommands, declared once and turned into typed options."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from localpose.errors import InvalidOptionError
from localpose.models import registry
from localpose.options import (
    DEFAULT_MODEL,
    EstimatorOptions,
    ModelOptions,
    OptionSpec,
    default_cache_dir,
    option_specs,
)

__all__ = [
    "add_estimator_arguments",
    "add_model_arguments",
    "comma_list",
    "estimator_options",
    "model_options",
    "positive",
]


def comma_list(choices: tuple[str, ...], what: str):
    """An argparse type: a comma-separated, non-empty subset of `choices` (order kept)."""

    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
        unknown = [f for f in chosen if f not in choices]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {','.join(unknown) or text}; choose from {','.join(choices)}"
            )
        return chosen

    return parse


def positive(kind: type[int] | type[float]):
    """An argparse type: a positive int or float."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _option_type(spec: OptionSpec):
    """An argparse type that parses and checks one estimator option exactly as the API does."""

    def parse(text: str) -> object:
        try:
            value = spec.parse(text)
            spec.check(value)
        except InvalidOptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    parse.__name__ = spec.kind.__name__  # argparse names the type in its messages
    return parse


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    names = ", ".join(registry().models)
    group.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="NAME|FILE",
        help=f"a model name ({names}; see `localpose models list`) or a PoseLandmarker .task / "
        f"landmark .tflite file (default {DEFAULT_MODEL})",
    )
    group.add_argument(
        "--model-cache",
        type=Path,
        metavar="DIR",
        help="where added and fetched models live (default: $LOCALPOSE_CACHE_DIR or ~/.cache/localpose)",
    )


def add_estimator_arguments(
    parser: argparse.ArgumentParser,
    default_num_poses: int = 1,
    modes: tuple[str, ...] = ("image", "video"),
    segmentation: bool = True,
) -> None:
    """The estimator options (`EstimatorOptions`) that do something in `modes`, as flags, plus --model.

    Flags, help and checks come from the options' own declarations (`option_specs`).
    """
    group = parser.add_argument_group("estimation")
    for spec in option_specs(EstimatorOptions):
        if not set(spec.modes) & set(modes) or (spec.name == "segmentation" and not segmentation):
            continue
        names = ([spec.flag] if spec.flag else []) + ["--" + spec.name.replace("_", "-")]
        default = default_num_poses if spec.name == "num_poses" else spec.default
        if spec.kind is bool:
            group.add_argument(*names, dest=spec.name, action="store_true", help=spec.help)
            continue
        group.add_argument(
            *names,
            dest=spec.name,
            type=None if spec.choices else _option_type(spec),
            choices=spec.choices or None,
            default=default,
            metavar=None if spec.choices else ("N" if spec.kind is int else "P"),
            help=f"{spec.help}; {spec.describe()} (default {default})",
        )
    add_model_arguments(parser)


def add_runtime_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    spec = next(s for s in option_specs(EstimatorOptions) if s.name == "runtime")
    parser.add_argument(
        "--runtime", choices=spec.choices, default=spec.default, help=f"{spec.help} (default auto)"
    )


def estimator_options(args: argparse.Namespace) -> EstimatorOptions:
    """The `EstimatorOptions` the parsed flags give (options without a flag keep their default)."""
    values = {
        spec.name: getattr(args, spec.name)
        for spec in option_specs(EstimatorOptions)
        if hasattr(args, spec.name)
    }
    return EstimatorOptions(**values)


def model_options(args: argparse.Namespace) -> ModelOptions:
    return ModelOptions(
        model=args.model,
        cache_dir=args.model_cache or default_cache_dir(os.environ),
    )
