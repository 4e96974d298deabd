"""Typed options objects passed explicitly into the library (no globals, no env reads)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from localpose.errors import InvalidOptionError

__all__ = [
    "DEFAULT_MODEL",
    "MULTI_PERSON_CHOICES",
    "RUNTIME_CHOICES",
    "EstimatorOptions",
    "ImageLimits",
    "ImageStage",
    "ModelOptions",
    "MultiPersonMode",
    "OptionSpec",
    "RuntimeChoice",
    "check_runtime",
    "default_cache_dir",
    "default_workers",
    "option_specs",
]

MultiPersonMode = Literal["auto", "proposals", "search", "single-pass"]
"""How to find several people in one image.

``single-pass``: one pass over the whole image (raw MediaPipe behaviour).
``proposals``: MoveNet MultiPose proposes the people, the model's landmark network runs on
each (`localpose.crowd`, docs/multiperson.md).
``search``: the detector-first search for everyone (docs/multiperson.md).
``auto``: ``proposals`` when num_poses > 1 in image mode (``search`` on MediaPipe Tasks,
whose closed graph takes no regions), else ``single-pass``.
"""
ImageStage = Literal["proposals", "search", "single-pass"]
RuntimeChoice = Literal["auto", "litert", "mediapipe"]
RUNTIME_CHOICES: tuple[RuntimeChoice, ...] = ("auto", "litert", "mediapipe")
"""Which runtime runs the networks (see `localpose.engine`): ``litert`` (fast, the default),
``mediapipe`` (MediaPipe Tasks' own PoseLandmarker, with the localpose[mediapipe] extra)."""
MULTI_PERSON_CHOICES: tuple[MultiPersonMode, ...] = ("auto", "proposals", "search", "single-pass")

Mode = Literal["image", "video"]


@dataclass(frozen=True)
class OptionSpec:
    """What a face (CLI flag, API query parameter, /info) needs to know about one option."""

    name: str
    default: object
    help: str
    kind: type
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    modes: tuple[Mode, ...] = ("image", "video")
    """Where the option does something: per-image estimation, video tracking, or both."""
    per_request: bool = True
    """Whether a request may set it (the runtime is the server's choice, not a request's)."""
    flag: str | None = None
    """A short CLI flag besides --name-with-dashes."""

    def parse(self, text: str) -> object:
        """The option's value from a command-line or query string; InvalidOptionError if it is not one."""
        text = text.strip()
        try:
            if self.kind is bool:
                lowered = text.lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(text)
                return lowered in ("1", "true", "yes", "on")
            return self.kind(text)
        except ValueError:
            raise InvalidOptionError(f"{self.name} must be {self.describe()}, got {text!r}") from None

    def describe(self) -> str:
        """The allowed values in words ("an integer from 1 to 10", "one of auto, search")."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind is bool:
            return "true or false"
        what = "an integer" if self.kind is int else "a number"
        if self.bounds is not None:
            low, high = self.bounds
            return f"{what} from {low:g} to {high:g}"
        return what

    def check(self, value: object) -> None:
        """InvalidOptionError unless `value` is allowed (the one place options are validated)."""
        ok = True
        if self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
        elif self.kind is bool:
            ok = isinstance(value, bool)
        if ok and self.choices:
            ok = value in self.choices
        if ok and self.bounds is not None:
            ok = self.bounds[0] <= value <= self.bounds[1]  # type: ignore[operator]
        if not ok:
            raise InvalidOptionError(f"{self.name} must be {self.describe()}, got {value!r}")


def _option(default: object, help: str, kind: type, **spec: object) -> Any:
    """A dataclass field carrying its `OptionSpec` (name filled in by `option_specs`)."""
    return field(default=default, metadata={"option": (help, kind, spec)})


@dataclass(frozen=True)
class EstimatorOptions:
    """What the estimator looks for and how hard it tries: the one definition of these options.

    The CLI's flags, the API's query parameters and the defaults in /api/v1/info are derived
    from these fields (`option_specs`), and every value is checked here, once.
    """

    num_poses: int = _option(1, "most people to return per frame", int, bounds=(1, 10), flag="-n")
    min_detection_confidence: float = _option(
        0.5, "pose detector score needed to start a person", float, bounds=(0.0, 1.0)
    )
    min_presence_confidence: float = _option(
        0.5, "landmark presence score needed to keep a person", float, bounds=(0.0, 1.0)
    )
    min_tracking_confidence: float = _option(
        0.5,
        "video: below this region overlap, detect again instead of tracking",
        float,
        bounds=(0.0, 1.0),
        modes=("video",),
    )
    segmentation: bool = _option(False, "also return a per-person segmentation mask", bool)
    multi_person: MultiPersonMode = _option(
        "auto",
        "how to look for several people in an image: auto = proposals when num_poses > 1",
        str,
        choices=MULTI_PERSON_CHOICES,
        modes=("image",),
    )
    runtime: RuntimeChoice = _option(
        "auto",
        "what runs the networks: litert, or MediaPipe Tasks (localpose[mediapipe]); auto = litert",
        str,
        choices=RUNTIME_CHOICES,
        per_request=False,
    )

    def __post_init__(self) -> None:
        for spec in option_specs(EstimatorOptions):
            spec.check(getattr(self, spec.name))

    @property
    def image_stage(self) -> ImageStage:
        """How image mode looks for people (docs/multiperson.md): ``auto`` is ``proposals``
        when several people are asked for, else ``single-pass``."""
        if self.multi_person == "auto":
            return "proposals" if self.num_poses > 1 else "single-pass"
        return self.multi_person

    @property
    def search_images(self) -> bool:
        """Whether image mode runs the detector-first search for every person."""
        return self.image_stage == "search"

    @classmethod
    def from_strings(
        cls, values: Mapping[str, str], base: EstimatorOptions | None = None
    ) -> EstimatorOptions:
        """Options from text values by field name (query parameters, flags); unknown names are ignored."""
        specs = {spec.name: spec for spec in option_specs(cls)}
        parsed = {name: specs[name].parse(text) for name, text in values.items() if name in specs}
        return replace(base or cls(), **parsed)


def option_specs(cls: type) -> tuple[OptionSpec, ...]:
    """The `OptionSpec` of every option field of an options dataclass, in field order."""
    specs = []
    for f in fields(cls):
        if "option" in f.metadata:
            help_text, kind, extra = f.metadata["option"]
            specs.append(OptionSpec(f.name, f.default, help_text, kind, **extra))
    return tuple(specs)


def check_runtime(value: str) -> None:
    """Refuse a runtime name that is not one of `RUNTIME_CHOICES`."""
    spec = next(s for s in option_specs(EstimatorOptions) if s.name == "runtime")
    spec.check(value)


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on decoded input, against decompression bombs and memory blow-ups."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise InvalidOptionError("image limits must be positive")


def default_workers() -> int:
    """Worker processes by default: the cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Model cache folder: $LOCALPOSE_CACHE_DIR, else $XDG_CACHE_HOME/localpose, else ~/.cache/localpose."""
    env = os.environ if environ is None else environ
    if env.get("LOCALPOSE_CACHE_DIR"):
        return Path(env["LOCALPOSE_CACHE_DIR"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "localpose"
    return Path.home() / ".cache" / "localpose"


DEFAULT_MODEL = "full"


@dataclass(frozen=True)
class ModelOptions:
    """Which pose model to load: a registry name or a file, and where the model cache is.

    `model` is a name from the model registry (`localpose models list`: ``full``, the default,
    and ``lite`` ship with localpose; ``heavy`` after ``localpose models fetch heavy``), or
    the path of a PoseLandmarker ``.task`` bundle or a bare BlazePose landmark ``.tflite``.
    """

    model: str | Path = DEFAULT_MODEL
    cache_dir: Path = field(default_factory=default_cache_dir)

    def __post_init__(self) -> None:
        if isinstance(self.model, Path):
            object.__setattr__(self, "model", self.model.expanduser())
        elif not isinstance(self.model, str) or not self.model.strip():
            raise InvalidOptionError(f"model must be a model name or a file path, got {self.model!r}")
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())

    @property
    def model_path(self) -> Path | None:
        """The model file the user named, or None when `model` is a registry name."""
        if isinstance(self.model, Path):
            return self.model
        looks_like_path = self.model.endswith((".task", ".tflite")) or "/" in self.model or "\\" in self.model
        return Path(self.model).expanduser() if looks_like_path else None
