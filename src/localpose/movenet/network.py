"""One MoveNet network on the runtime layer (`localpose.runtime.litert`), by its registry name."""

from __future__ import annotations

import numpy as np

from localpose.models import shipped_network
from localpose.runtime.litert import ByThreadCount, TFLiteNetwork

__all__ = ["NETWORKS", "MoveNetNetwork"]

NETWORKS = ("movenet-lightning", "movenet-thunder", "movenet-multipose")
"""The converted networks shipped in localpose/weights (scripts/convert-movenet; weights/models.json)."""


class MoveNetNetwork:
    """A MoveNet .tflite network: int32 (1, H, W, 3) in, its one float32 output out.

    MultiPose's input tensor is resized whenever a new input shape arrives. `threads` may change
    between runs (one interpreter is built per thread count, on first use).
    """

    def __init__(self, model: str | bytes, threads: int = 1) -> None:
        """`model`: a registry name from `NETWORKS` (hash-checked), or the network's bytes."""
        content = shipped_network(model) if isinstance(model, str) else model
        self._by_threads = ByThreadCount(lambda n: TFLiteNetwork(content, n), threads)
        self._network = self._by_threads.current
        (self._output,) = self._network.output_shapes
        self.dynamic = self._network.dynamic_input

    @property
    def threads(self) -> int:
        return self._by_threads.count

    @threads.setter
    def threads(self, count: int) -> None:
        self._by_threads.count = count
        self._network = self._by_threads.current

    @property
    def input_side(self) -> int | None:
        """The square input side of a single-pose network; None for MultiPose (any multiple of 32)."""
        return None if self.dynamic else self._network.input_size

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Invoke on one int32 input tensor; a copy of the output."""
        height, width = tensor.shape[1:3]
        if (width, height) != self._network.input_shape:
            if not self.dynamic:
                raise ValueError(f"this network takes {self._network.input_shape}, got {(width, height)}")
            self._network.resize_input(width, height)
        (out,) = self._network.run(np.ascontiguousarray(tensor, np.int32), (self._output,))
        return out
