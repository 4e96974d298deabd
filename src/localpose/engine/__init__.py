"""The inference engine, behind one small interface (`PoseEngine`).

Two runtimes run the same BlazePose networks from a PoseLandmarker ``.task`` bundle:

``litert``     the two networks on Google's LiteRT interpreter, with MediaPipe's graph
               (detector decoding, ROI crops, heatmap refinement, tracking) in numpy and
               OpenCV (`localpose.engine.litert`); the default when ``ai-edge-litert`` is
               installed, because it does the same work in less time;
``mediapipe``  MediaPipe Tasks' own PoseLandmarker (`localpose.engine.tasks`), the only
               module that imports mediapipe.

`create_engine` picks one; nothing outside this package knows which runtime runs.
"""

from __future__ import annotations

from importlib.util import find_spec

from localpose.engine.settings import BUNDLE_ENTRIES, EngineSettings, PoseEngine, RunningMode, Runtime
from localpose.engine.tasks import (
    MediaPipeEngine,
    SeedSolutionLoop,
    WheelModelFiles,
    build_task_bundle,
    find_wheel_model_files,
    mediapipe_version,
)
from localpose.errors import ModelUnavailableError
from localpose.options import RuntimeChoice

__all__ = [
    "BUNDLE_ENTRIES",
    "EngineSettings",
    "MediaPipeEngine",
    "PoseEngine",
    "RunningMode",
    "Runtime",
    "RuntimeChoice",
    "SeedSolutionLoop",
    "WheelModelFiles",
    "build_task_bundle",
    "create_engine",
    "find_wheel_model_files",
    "litert_available",
    "mediapipe_version",
    "resolve_runtime",
]


def litert_available() -> bool:
    """Whether Google's LiteRT interpreter (package ai-edge-litert) is installed."""
    return find_spec("ai_edge_litert") is not None


def resolve_runtime(choice: RuntimeChoice) -> Runtime:
    """The runtime `choice` stands for on this machine."""
    if choice == "auto":
        return "litert" if litert_available() else "mediapipe"
    if choice == "litert" and not litert_available():
        raise ModelUnavailableError(
            "the litert runtime needs Google's LiteRT interpreter: pip install ai-edge-litert "
            "(or choose --runtime mediapipe)"
        )
    return choice


def create_engine(
    task_bundle: bytes, settings: EngineSettings, mode: RunningMode = "image", runtime: RuntimeChoice = "auto"
) -> PoseEngine:
    """An engine running the networks of `task_bundle` on the chosen runtime."""
    if resolve_runtime(runtime) == "litert":
        from localpose.engine.litert import LiteRTEngine

        return LiteRTEngine(task_bundle, settings, mode)
    return MediaPipeEngine(task_bundle, settings, mode)
