"""The inference engine, behind one small interface (`PoseEngine`).

Two runtimes run a model's networks:

``litert``     the networks on Google's LiteRT interpreter (`localpose.runtime.litert`) with
               each family's pipeline around them (`localpose.blazepose`: MediaPipe's pose
               graph in numpy and OpenCV); the default, because it does the same work in
               less time and needs nothing beyond localpose's own dependencies;
``mediapipe``  MediaPipe Tasks' own PoseLandmarker (`localpose.engine.tasks`, the only module
               that imports mediapipe), with the ``localpose[mediapipe]`` extra.

`create_engine` picks one; nothing outside this package knows which runtime runs.
"""

from __future__ import annotations

from localpose.engine.interface import PoseEngine, RunningMode, Runtime
from localpose.engine.tasks import MEDIAPIPE_MISSING, mediapipe_version
from localpose.errors import ModelUnavailableError
from localpose.models import ModelBundle
from localpose.options import EstimatorOptions, RuntimeChoice

__all__ = [
    "FAMILIES",
    "PoseEngine",
    "RunningMode",
    "Runtime",
    "RuntimeChoice",
    "create_engine",
    "mediapipe_version",
    "resolve_runtime",
]


FAMILIES = ("blazepose", "movenet")
"""Model families `create_engine` runs: BlazePose (33 landmarks + world), MoveNet (COCO-17, 2D)."""


def resolve_runtime(choice: RuntimeChoice) -> Runtime:
    """The runtime `choice` stands for on this machine (``auto`` is always LiteRT)."""
    if choice == "mediapipe" and mediapipe_version() is None:
        raise ModelUnavailableError(MEDIAPIPE_MISSING)
    return "mediapipe" if choice == "mediapipe" else "litert"


def create_engine(
    model: ModelBundle,
    options: EstimatorOptions,
    mode: RunningMode = "image",
    threads: int = 1,
    proposer: object | None = None,
) -> PoseEngine:
    """The family's engine running `model` on the runtime `options.runtime` names.

    `threads`: how many threads each network may use (LiteRT; MediaPipe Tasks uses one).
    `proposer` (BlazePose on LiteRT, video mode): where to look for people the tracker lacks
    (`localpose.crowd.ProposalRegions`). Stages around the engine (several people per image)
    are composed by `localpose.estimate`, not here.
    """
    if model.family not in FAMILIES:
        raise ModelUnavailableError(
            f"model {model.name!r} is of family {model.family!r}, which this localpose cannot run"
        )
    if model.family == "movenet":
        if options.runtime == "mediapipe":
            raise ModelUnavailableError(
                f"model {model.name!r} runs on LiteRT only: MediaPipe Tasks runs BlazePose models"
            )
        from localpose.movenet.pipeline import MoveNetEngine

        return MoveNetEngine(model.networks, options, mode, threads)
    if resolve_runtime(options.runtime) == "mediapipe":
        from localpose.engine.tasks import MediaPipeEngine

        return MediaPipeEngine(model, options, mode)
    from localpose.blazepose.pipeline import BlazePoseEngine

    networks = model.networks
    return BlazePoseEngine(networks["detector"], networks["landmarks"], options, mode, threads, proposer)
