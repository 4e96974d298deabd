"""BlazePose's person detector: letterboxed input, SSD anchors, box decoding, weighted NMS.

With the constants of MediaPipe's pose detection graph: the image letterboxed to 224x224 in
[-1, 1]; 2254 anchors; boxes and 4 keypoints decoded; weighted non-maximum suppression
(IoU 0.3); each detection becomes a rotated square landmark region from keypoint 0 (hip
centre) and 1 (body scale). The detector can also run at other input shapes (bigger, the
image's aspect) to see smaller people: the network is rebuilt for them on first use.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict

import cv2
import numpy as np

from localpose.blazepose.regions import Roi
from localpose.errors import ModelUnavailableError
from localpose.metrics import box_iou
from localpose.runtime.litert import SurgeryUnavailableError, TFLiteNetwork, at_input_size

__all__ = ["DETECTOR_SIZE", "PoseDetector", "detector_roles", "sigmoid", "ssd_anchors", "weighted_nms"]

log = logging.getLogger(__name__)

DETECTOR_SIZE = 224
_NMS_IOU = 0.3
_SIGMOID_CLIP = 80.0  # keeps exp() inside float32; sigmoid is 0 or 1 there anyway
_SHAPES_KEPT = 4  # networks built for other input shapes, most recent first


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, clipped so that float32 never overflows."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -_SIGMOID_CLIP, _SIGMOID_CLIP)))


def ssd_anchors(
    size: int | tuple[int, int] = DETECTOR_SIZE,
    strides: tuple[int, ...] = (8, 16, 32, 32, 32),
    per_layer: int = 2,
) -> np.ndarray:
    """Anchor centres (N, 2), normalised, in the order the pose detector emits its boxes.

    MediaPipe's SsdAnchorsCalculator with fixed-size anchors: layers that share a stride share
    one grid, each layer adding `per_layer` anchors (aspect ratio 1 and its interpolated scale).
    `size` is the input's side, or its (width, height) when the detector runs at another shape.
    """
    width, height = (size, size) if isinstance(size, int) else size
    centres = []
    layer = 0
    while layer < len(strides):
        stride, same = strides[layer], 0
        while layer + same < len(strides) and strides[layer + same] == stride:
            same += 1
        columns, rows = math.ceil(width / stride), math.ceil(height / stride)
        xs, ys = np.meshgrid(
            (np.arange(columns, dtype=np.float32) + 0.5) / columns,
            (np.arange(rows, dtype=np.float32) + 0.5) / rows,
        )
        per_cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(per_cell, per_layer * same, axis=0))
        layer += same
    return np.concatenate(centres)


def detector_roles(shapes: dict[str, tuple[int, ...]]) -> dict[str, str]:
    """Output tensor name of each detector role, told apart by shape: boxes (1, N, 12), scores (1, N, 1)."""
    roles = {}
    for name, shape in shapes.items():
        if len(shape) == 3 and shape[2] == 12:
            roles["boxes"] = name
        elif len(shape) == 3 and shape[2] == 1:
            roles["scores"] = name
    missing = {"boxes", "scores"} - set(roles)
    if missing:
        raise ModelUnavailableError(f"not a BlazePose detector: no {', '.join(sorted(missing))} output")
    return roles


def weighted_nms(
    corners: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, threshold: float, confident: float = 0.0
) -> list[tuple[float, np.ndarray]]:
    """MediaPipe's weighted NMS: each cluster (IoU > threshold with its best box) is averaged by score.

    Returns (score of the best box, score-weighted keypoints (4, 2)) per cluster, best first.
    A cluster whose best box reaches `confident` is averaged over its boxes that reach it too,
    so weaker boxes let in for a second chance leave MediaPipe's own detections unchanged.
    """
    order = np.argsort(-scores, kind="stable")
    corners, keypoints, scores = corners[order], keypoints[order], scores[order]
    remaining = np.arange(len(scores))
    out = []
    while remaining.size:
        best = remaining[0]
        iou = box_iou(corners[best : best + 1], corners[remaining])[0]
        cluster = remaining[iou > threshold]
        if cluster.size == 0:
            cluster = remaining[:1]
        if scores[best] >= confident:
            cluster = cluster[scores[cluster] >= confident]
        weights = scores[cluster] / scores[cluster].sum()
        out.append((float(scores[best]), np.tensordot(weights, keypoints[cluster], axes=1)))
        remaining = remaining[iou <= threshold]
        remaining = remaining[remaining != best]
    return out


class PoseDetector:
    """The pose detector at its own square input, and at other input shapes built on first use."""

    def __init__(self, model: bytes, threads: int = 1) -> None:
        self._model = model
        self._threads = threads
        square = TFLiteNetwork(model, threads)
        self.roles = detector_roles(square.output_shapes)
        self.square_shape = square.input_shape
        self._networks: OrderedDict[tuple[int, int], tuple[TFLiteNetwork, np.ndarray]] = OrderedDict(
            [(square.input_shape, (square, ssd_anchors(square.input_shape)))]
        )

    @property
    def input_shapes(self) -> list[tuple[int, int]]:
        """The (width, height) inputs built so far: the square one first, then the most recent last."""
        return list(self._networks)

    def _network(self, shape: tuple[int, int]) -> tuple[TFLiteNetwork, np.ndarray]:
        """The network for an input `shape` (the square one when this model cannot change it)."""
        if shape not in self._networks:
            try:
                network = TFLiteNetwork(at_input_size(self._model, *shape), self._threads)
                self._networks[shape] = (network, ssd_anchors(shape))
            except SurgeryUnavailableError:
                self._networks[shape] = self._networks[self.square_shape]
            except (ModelUnavailableError, ValueError) as exc:
                log.warning(
                    "the detector cannot run at %dx%d (%s); using %dx%d", *shape, exc, *self.square_shape
                )
                self._networks[shape] = self._networks[self.square_shape]
            while len(self._networks) > 1 + _SHAPES_KEPT:  # the square one stays first
                del self._networks[next(k for k in self._networks if k != self.square_shape)]
        self._networks.move_to_end(shape, last=shape != self.square_shape)
        return self._networks[shape]

    def detect(
        self,
        rgb: np.ndarray,
        min_score: float,
        shape: tuple[int, int] | None = None,
        second_chance: float | None = None,
    ) -> list[tuple[float, Roi]]:
        """Candidates as (score, landmark ROI), best first, after suppression.

        The image is letterboxed into the detector input of `shape` (width, height; default
        its own 224x224). With `second_chance`, weaker detections down to that score come too,
        after those reaching `min_score` (which are as MediaPipe would find them).
        """
        network, anchors = self._network(shape or self.square_shape)
        height, width = rgb.shape[:2]
        input_width, input_height = network.input_shape
        scale = min(input_width / width, input_height / height)
        pad = np.array([(input_width - width * scale) / 2, (input_height - height * scale) / 2])
        dims = np.array(network.input_shape, dtype=np.float32)  # decoding stays in float32
        matrix = np.array([[scale, 0, pad[0]], [0, scale, pad[1]]], dtype=np.float64)
        letterboxed = cv2.warpAffine(
            rgb,
            matrix,
            network.input_shape,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        tensor = (letterboxed.astype(np.float32) - 127.5) / 127.5
        boxes, scores = network.run(tensor[None], (self.roles["boxes"], self.roles["scores"]))
        scores = sigmoid(scores[0, :, 0])
        lowest = min_score if second_chance is None else min(min_score, second_chance)
        keep = np.flatnonzero(scores >= lowest)
        if keep.size == 0:
            return []
        raw = boxes[0, keep]
        centres = raw[:, 0:2] / dims + anchors[keep]
        sizes = raw[:, 2:4] / dims
        corners = np.hstack([centres - sizes / 2, centres + sizes / 2])
        keypoints = raw[:, 4:12].reshape(-1, 4, 2) / dims + anchors[keep][:, None, :]
        found = weighted_nms(corners, keypoints, scores[keep], _NMS_IOU, confident=min_score)
        out = []
        for score, points in found:
            pixels = (points * dims - pad) / scale
            out.append((score, Roi.from_alignment_points(pixels[0], pixels[1])))
        return out
