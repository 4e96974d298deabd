"""Running one tflite network on Google's LiteRT interpreter, and reshaping networks.

This is the only module that imports ``ai_edge_litert``. It knows nothing about poses: it
loads a network from bytes, runs it on a float32 tensor and returns outputs by tensor name;
it can drop outputs a caller does not need and rebuild a convolutional network for another
input size (model surgery on the flatbuffer, with LiteRT's own schema module). Model
families (`localpose.blazepose`, later MoveNet) build their pipelines on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any, Generic, TypeVar

import numpy as np

from localpose.errors import ModelUnavailableError
from localpose.nativelog import hide_routine_native_lines

__all__ = [
    "ByThreadCount",
    "SurgeryUnavailableError",
    "TFLiteNetwork",
    "at_input_size",
    "surgery_available",
    "without_outputs",
]

log = logging.getLogger(__name__)


class SurgeryUnavailableError(ModelUnavailableError):
    """This LiteRT build cannot rewrite networks (its flatbuffer schema module is missing or changed)."""


@cache
def _schema() -> Any:
    """LiteRT's generated flatbuffer schema module, or None when it is missing (logged once)."""
    try:
        from ai_edge_litert import schema_py_generated as schema

        if not (hasattr(schema, "ModelT") and hasattr(schema.BuiltinOperator, "RESIZE_BILINEAR")):
            raise AttributeError("schema_py_generated lacks ModelT or RESIZE_BILINEAR")
    except (ImportError, AttributeError) as exc:
        log.warning(
            "this ai-edge-litert cannot rewrite networks (%s): localpose runs the landmark network "
            "with its unused segmentation head (about 1.5x slower) and its detector at 224x224 only "
            "(the multi-person search finds fewer small people); ai-edge-litert 2.x has what it needs",
            exc,
        )
        return None
    return schema


def surgery_available() -> bool:
    """Whether networks can be rewritten here (logs the consequence once when they cannot)."""
    return _schema() is not None


def _require_schema() -> Any:
    schema = _schema()
    if schema is None:
        raise SurgeryUnavailableError("this ai-edge-litert cannot rewrite networks")
    return schema


T = TypeVar("T")


class ByThreadCount(Generic[T]):
    """What runs on N threads (an interpreter, a pipeline's networks), built once per thread
    count on first use, so a caller can switch between one core and several between runs."""

    def __init__(self, build: Callable[[int], T], threads: int = 1) -> None:
        self._build = build
        self._built: dict[int, T] = {}
        self.count = threads

    @property
    def count(self) -> int:
        return self._count

    @count.setter
    def count(self, threads: int) -> None:
        threads = max(1, int(threads))
        if threads not in self._built:
            self._built[threads] = self._build(threads)
        self._count = threads

    @property
    def current(self) -> T:
        """What was built for the current thread count."""
        return self._built[self._count]


class TFLiteNetwork:
    """One tflite network on a LiteRT interpreter with `threads` threads; outputs by tensor name.

    Not thread-safe: one caller at a time. Outputs are copies, so they stay valid after the
    next run.
    """

    def __init__(self, model: bytes, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.threads = threads
        try:
            with hide_routine_native_lines():  # LiteRT's "INFO: Created ... XNNPACK delegate"
                self._interpreter = Interpreter(model_content=model, num_threads=threads)
                self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelUnavailableError(f"LiteRT could not load the network: {exc}") from exc
        detail = self._interpreter.get_input_details()[0]
        shape = detail["shape"]
        self._input = detail["index"]
        self.input_dtype = np.dtype(detail["dtype"])
        self.input_shape = (int(shape[2]), int(shape[1]))  # (width, height)
        self.dynamic_input = bool((np.asarray(detail["shape_signature"]) < 0).any())
        """Whether the input's height and width may change (`resize_input`)."""
        details = self._interpreter.get_output_details()
        self._outputs = {d["name"]: d["index"] for d in details}
        self.output_shapes = {d["name"]: tuple(int(v) for v in d["shape"]) for d in details}

    @property
    def input_size(self) -> int:
        """The input's width (the side, for the square networks)."""
        return self.input_shape[0]

    def resize_input(self, width: int, height: int) -> None:
        """Reshape a network with a dynamic input to (1, height, width, 3) and re-plan its tensors."""
        self._interpreter.resize_tensor_input(self._input, [1, height, width, 3], strict=False)
        self._interpreter.allocate_tensors()
        self.input_shape = (width, height)
        details = self._interpreter.get_output_details()
        self.output_shapes = {d["name"]: tuple(int(v) for v in d["shape"]) for d in details}

    def run(self, tensor: np.ndarray, wanted: tuple[str, ...]) -> list[np.ndarray]:
        """Invoke on one (1, H, W, C) tensor; copies of the outputs named in `wanted`."""
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(self._outputs[name]) for name in wanted]


def without_outputs(model: bytes, dropped: set[str]) -> bytes:
    """The network with the `dropped` outputs and every operator only they need removed.

    BlazePose's landmark network spends a third of its work on a segmentation head; without
    it the other outputs are bit-identical (checked in the tests) and come 1.5x sooner.
    Raises SurgeryUnavailableError when this LiteRT cannot rewrite networks.
    """
    import flatbuffers

    schema = _require_schema()
    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    graph = tree.subgraphs[0]
    kept = [t for t in graph.outputs if graph.tensors[t].name.decode() not in dropped]
    producer = {out: k for k, op in enumerate(graph.operators) for out in op.outputs}
    needed, pending = set(), list(kept)
    while pending:
        k = producer.get(pending.pop())
        if k is not None and k not in needed:
            needed.add(k)
            pending.extend(t for t in graph.operators[k].inputs if t >= 0)
    graph.operators = [op for k, op in enumerate(graph.operators) if k in needed]
    graph.outputs = kept
    builder = flatbuffers.Builder(len(model))
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def at_input_size(model: bytes, width: int, height: int) -> bytes:
    """A convolutional network rebuilt for a (width, height) input instead of its square one.

    Convolutions take any size; only bilinear upsampling steps carry their target sizes as
    constants, and those are scaled with the input. Both sides must be multiples of 32 (the
    coarsest stride of the networks this serves). The few numbers are overwritten in place
    (a full unpack and repack of the flatbuffer takes 0.1 s). Raises ValueError for other
    sides, SurgeryUnavailableError when this LiteRT cannot rewrite networks.
    """
    if width % 32 or height % 32:
        raise ValueError(f"input sides must be multiples of 32, got {width}x{height}")
    schema = _require_schema()
    original = np.frombuffer(model, dtype=np.uint8)
    patched = bytearray(model)

    def overwrite(view: np.ndarray, values: list[int]) -> None:
        start = view.__array_interface__["data"][0] - original.__array_interface__["data"][0]
        patched[start : start + 4 * len(values)] = np.array(values, dtype="<i4").tobytes()

    tree = schema.Model.GetRootAsModel(model, 0)
    graph = tree.Subgraphs(0)
    input_shape = graph.Tensors(graph.Inputs(0)).ShapeAsNumpy()
    base = int(input_shape[1])
    overwrite(input_shape, [1, height, width, 3])
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = tree.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != schema.BuiltinOperator.RESIZE_BILINEAR:
            continue
        size = tree.Buffers(graph.Tensors(op.Inputs(1)).Buffer()).DataAsNumpy().view("<i4")
        stride = base // int(size[0])
        overwrite(size, [height // stride, width // stride])
    return bytes(patched)
