"""One MoveNet network on Google's LiteRT interpreter (kept apart so a runtime layer can take it)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np

from localpose.errors import ModelUnavailableError

__all__ = ["WEIGHT_FILES", "MoveNetNetwork", "bundled_weights"]

WEIGHT_FILES: dict[str, str] = {
    "movenet-lightning": "movenet_lightning.tflite",
    "movenet-thunder": "movenet_thunder.tflite",
    "movenet-multipose": "movenet_multipose_lightning.tflite",
}
"""The converted networks shipped in localpose/weights (scripts/convert-movenet)."""


def bundled_weights(name: str) -> Path:
    """The path of a bundled MoveNet network by its name (a key of WEIGHT_FILES)."""
    if name not in WEIGHT_FILES:
        raise ModelUnavailableError(
            f"no MoveNet network named {name!r}; choose one of {', '.join(WEIGHT_FILES)}"
        )
    path = Path(str(files("localpose") / "weights" / WEIGHT_FILES[name]))
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing: reinstall localpose")
    return path


class MoveNetNetwork:
    """A MoveNet .tflite network: int32 (1, H, W, 3) in, its one float32 output out.

    MultiPose's input tensor is resized whenever a new input shape arrives.
    """

    def __init__(self, model: Path | bytes, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        content = model.read_bytes() if isinstance(model, Path) else model
        try:
            self._interpreter = Interpreter(model_content=content, num_threads=threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelUnavailableError(f"LiteRT could not load the MoveNet network: {exc}") from exc
        entry = self._interpreter.get_input_details()[0]
        self._input = entry["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape = tuple(int(v) for v in entry["shape"])
        self.dynamic = bool((np.asarray(entry["shape_signature"]) < 0).any())

    @property
    def input_side(self) -> int | None:
        """The square input side of a single-pose network; None for MultiPose (any multiple of 32)."""
        return None if self.dynamic else self._shape[1]

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Invoke on one int32 input tensor; a copy of the output."""
        shape = tuple(tensor.shape)
        if shape != self._shape:
            if not self.dynamic:
                raise ValueError(f"this network takes {self._shape}, got {shape}")
            self._interpreter.resize_tensor_input(self._input, list(shape))
            self._interpreter.allocate_tensors()
            self._shape = shape
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(tensor, np.int32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)
