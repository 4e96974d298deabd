"""The LiteRT runtime: BlazePose's two networks on Google's LiteRT interpreter.

It runs the same networks as MediaPipe Tasks' PoseLandmarker (read from the same ``.task``
bundle) and re-creates the parts of MediaPipe's graph that matter for the result, with
the constants of MediaPipe's pose detector and landmarks detector graphs:

  detector   the image letterboxed to 224x224 in [-1, 1]; 2254 SSD anchors; boxes and 4
             keypoints decoded; weighted non-maximum suppression (IoU 0.3); a rotated square
             ROI from keypoint 0 (hip centre) and 1 (body scale), side 2x their distance,
             enlarged 1.25x;
  landmarks  the ROI cropped to 256x256 in [0, 1]; 39 landmarks (33 + 2 ROI helpers + 4
             unused) refined by the heatmap (7x7 window, confidence >= 0.5), projected
             back; world landmarks rotated by the ROI angle; pose presence >= threshold;
  tracking   in video mode each person's next ROI comes from their helper landmarks
             (33, 34); the detector runs only while fewer people are tracked than asked for,
             and its boxes that overlap a tracked ROI are dropped.

In video mode a single person's landmarks pass MediaPipe's own One Euro filter, as MediaPipe
Tasks does (several people are returned unfiltered, also as Tasks does). In image mode with
`EngineSettings.search` the engine looks for everyone, detector first (`LiteRTEngine._search`,
docs/multiperson.md): something MediaPipe's closed graph cannot do.
Why: the networks are most of the cost, and MediaPipe's graph around them adds ~30% more
work per frame; here the graph costs well under a millisecond.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from localpose.engine.settings import BUNDLE_ENTRIES, EngineSettings, RunningMode, VideoClock, check_rgb
from localpose.errors import ModelUnavailableError
from localpose.metrics import DUPLICATE_OKS, pairwise_oks
from localpose.result import PoseFrame
from localpose.schema import NUM_LANDMARKS
from localpose.smooth import OneEuroSmoother

__all__ = ["LiteRTEngine", "Roi", "ssd_anchors", "without_outputs"]

_DETECTOR_SIZE = 224
_NUM_MODEL_LANDMARKS = 39
_HELPER_CENTRE, _HELPER_SCALE = 33, 34
_ROI_SCALE = 1.25
_NMS_IOU = 0.3
_HEATMAP_KERNEL = 7
_HEATMAP_MIN_CONFIDENCE = 0.5
_SIGMOID_CLIP = 80.0  # keeps exp() inside float32; sigmoid is 0 or 1 there anyway
_MIN_ROI_SIDE = 4.0  # pixels: smaller regions hold no person the model could see
_PART_INSIDE = 0.8  # a person whose box lies this much inside another's is a part of that one
_PART_AREA = 0.5  # ...in the image search, when also smaller than this fraction of it
# The image-mode search for several people (see LiteRTEngine._search):
_SEARCH_LONG_SIDE = 2 * _DETECTOR_SIZE  # detector input: people look twice as large as at 224
_SEARCH_SCORE_FACTOR = 0.3  # second-chance detections: down to 0.3x min_detection_confidence
_SECOND_CHANCE_PRESENCE = 0.9  # ...kept when the mean landmark presence reaches this
_WELL_FRAMED = 0.9  # ...and looked at again unless their landmarks' region has IoU >= this with it
_DETECTOR_SHAPES_KEPT = 4  # detector networks built for other input shapes, most recent first


def ssd_anchors(
    size: int | tuple[int, int] = _DETECTOR_SIZE,
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


@dataclass(frozen=True)
class Roi:
    """A rotated square region of the image, in pixels: centre, side and angle (radians)."""

    cx: float
    cy: float
    side: float
    rotation: float

    @classmethod
    def from_alignment_points(cls, centre: np.ndarray, scale_point: np.ndarray) -> Roi:
        """MediaPipe's AlignmentPointsRects + RectTransformation(1.25, square) for pose, in pixels."""
        dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
        rotation = math.pi / 2 - math.atan2(-dy, dx)
        rotation -= 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
        side = 2.0 * math.hypot(dx, dy) * _ROI_SCALE
        return cls(float(centre[0]), float(centre[1]), side, rotation)

    def to_image(self) -> np.ndarray:
        """2x3 affine map from unit ROI coordinates ([0, 1] across the square) to image pixels."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        a = np.array([[c, -s], [s, c]]) * self.side
        offset = np.array([self.cx, self.cy]) - a @ np.array([0.5, 0.5])
        return np.hstack([a, offset[:, None]])

    def crop_matrix(self, size: int) -> np.ndarray:
        """2x3 affine map from image pixels to the pixels of a `size` x `size` crop of this ROI."""
        to_image = self.to_image()
        to_image[:, :2] /= size
        return cv2.invertAffineTransform(to_image)

    def iou(self, other: Roi) -> float:
        """Overlap of the two ROIs' axis-aligned boxes (rotation ignored, as MediaPipe's association does)."""
        ax0, ay0, ax1, ay1 = self._box()
        bx0, by0, bx1, by1 = other._box()
        iw, ih = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        return inter / (self.side**2 + other.side**2 - inter)

    def same_place(self, other: Roi, min_iou: float) -> bool:
        """Whether both ROIs frame the same person: boxes overlap by `min_iou`, or same centre."""
        return self.same_centre(other) or self.iou(other) >= min_iou

    def same_centre(self, other: Roi) -> bool:
        """Whether the centres (the hips) are closer than a tenth of the larger side."""
        return math.hypot(self.cx - other.cx, self.cy - other.cy) < 0.1 * max(self.side, other.side)

    def _box(self) -> tuple[float, float, float, float]:
        half = self.side / 2
        return self.cx - half, self.cy - half, self.cx + half, self.cy + half


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -_SIGMOID_CLIP, _SIGMOID_CLIP)))


def _bundle_networks(task_bundle: bytes) -> tuple[bytes, bytes]:
    """(detector, landmarks) tflite bytes from a PoseLandmarker ``.task`` bundle."""
    try:
        with zipfile.ZipFile(io.BytesIO(task_bundle)) as bundle:
            return bundle.read(BUNDLE_ENTRIES[0]), bundle.read(BUNDLE_ENTRIES[1])
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelUnavailableError(f"not a PoseLandmarker .task bundle: {exc}") from exc


def without_outputs(model: bytes, dropped: set[str]) -> bytes:
    """The network with the `dropped` outputs and every operator only they need removed.

    The landmark model's segmentation head is a third of its work; without it the other
    outputs are bit-identical (checked in the tests) and come 1.5x sooner.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

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
    """The pose detector rebuilt for a (width, height) input instead of its square one.

    The network is convolutional except for its two upsampling steps, whose target sizes are
    constants; they are scaled with the input. Both sides must be multiples of 32 (the
    coarsest stride). The few numbers are overwritten in place (a full unpack and repack of
    the flatbuffer takes 0.1 s). Why: a larger input shows the detector smaller people.
    """
    from ai_edge_litert import schema_py_generated as schema

    if width % 32 or height % 32:
        raise ValueError(f"detector input sides must be multiples of 32, got {width}x{height}")
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


class _Network:
    """One tflite network on a single-threaded LiteRT interpreter, outputs by tensor name."""

    def __init__(self, model: bytes, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._interpreter = Interpreter(model_content=model, num_threads=threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelUnavailableError(f"LiteRT could not load the pose model: {exc}") from exc
        shape = self._interpreter.get_input_details()[0]["shape"]
        self._input = self._interpreter.get_input_details()[0]["index"]
        self.input_shape = (int(shape[2]), int(shape[1]))  # (width, height)
        self.input_size = self.input_shape[0]
        details = self._interpreter.get_output_details()
        self._outputs = {d["name"]: d["index"] for d in details}
        self.output_shapes = {d["name"]: tuple(int(v) for v in d["shape"]) for d in details}

    def run(self, tensor: np.ndarray, wanted: tuple[str, ...]) -> list[np.ndarray]:
        """Invoke on one (1, H, W, 3) float32 tensor; copies of the outputs named in `wanted`."""
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(self._outputs[name]) for name in wanted]


def _output_roles(shapes: dict[str, tuple[int, ...]], size: int) -> dict[str, str]:
    """Output tensor name of each role, told apart by shape (names differ between lite, full
    and heavy bundles): landmarks (1, 195), presence (1, 1), mask (1, S, S, 1), heatmap
    (1, h, w, 39), world (1, 117) for the landmark model; boxes (1, N, 12), scores (1, N, 1)
    for the detector."""
    wanted = {
        "landmarks": lambda s: s == (1, _NUM_MODEL_LANDMARKS * 5),
        "presence": lambda s: s == (1, 1),
        "mask": lambda s: len(s) == 4 and s[1:] == (size, size, 1),
        "heatmap": lambda s: len(s) == 4 and s[3] == _NUM_MODEL_LANDMARKS,
        "world": lambda s: s == (1, _NUM_MODEL_LANDMARKS * 3),
        "boxes": lambda s: len(s) == 3 and s[2] == 12,
        "scores": lambda s: len(s) == 3 and s[2] == 1,
    }
    return {role: name for role, test in wanted.items() for name, shape in shapes.items() if test(shape)}


@dataclass(frozen=True)
class _Person:
    """One person's raw result: 39 projected landmarks and what goes with them."""

    landmarks: np.ndarray  # (39, 5) x px, y px, z (width-normalised), visibility, presence
    world: np.ndarray  # (33, 3)
    presence: float
    roi: Roi
    mask: np.ndarray | None  # (H, W) float, when segmentation is on

    def next_roi(self) -> Roi:
        """Where to look for this person in the next frame (from the two helper landmarks)."""
        return Roi.from_alignment_points(
            self.landmarks[_HELPER_CENTRE, :2], self.landmarks[_HELPER_SCALE, :2]
        )

    @property
    def framing(self) -> float:
        """How well the region fitted the person: IoU of the region used and the one the landmarks give."""
        return self.next_roi().iou(self.roi)

    @property
    def mean_presence(self) -> float:
        """Mean presence of the 33 landmarks (the person's score)."""
        return float(self.landmarks[:NUM_LANDMARKS, 4].mean())


class _Detector:
    """The pose detector at its own square input, and at other input shapes built on first use."""

    def __init__(self, model: bytes) -> None:
        self._model = model
        square = _Network(model)
        self.roles = _output_roles(square.output_shapes, square.input_size)
        self.square_shape = square.input_shape
        self._networks: OrderedDict[tuple[int, int], tuple[_Network, np.ndarray]] = OrderedDict(
            [(square.input_shape, (square, ssd_anchors(square.input_shape)))]
        )

    def _network(self, shape: tuple[int, int]) -> tuple[_Network, np.ndarray]:
        """The network for an input `shape` (the square one when this model cannot change it)."""
        if shape not in self._networks:
            try:
                self._networks[shape] = (_Network(at_input_size(self._model, *shape)), ssd_anchors(shape))
            except (ModelUnavailableError, ValueError, ImportError, AttributeError):
                self._networks[shape] = self._networks[self.square_shape]
            while len(self._networks) > 1 + _DETECTOR_SHAPES_KEPT:  # the square one stays first
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
        scores = _sigmoid(scores[0, :, 0])
        lowest = min_score if second_chance is None else min(min_score, second_chance)
        keep = np.flatnonzero(scores >= lowest)
        if keep.size == 0:
            return []
        raw = boxes[0, keep]
        centres = raw[:, 0:2] / dims + anchors[keep]
        sizes = raw[:, 2:4] / dims
        corners = np.hstack([centres - sizes / 2, centres + sizes / 2])
        keypoints = raw[:, 4:12].reshape(-1, 4, 2) / dims + anchors[keep][:, None, :]
        found = _weighted_nms(corners, keypoints, scores[keep], _NMS_IOU, confident=min_score)
        out = []
        for score, points in found:
            pixels = (points * dims - pad) / scale
            out.append((score, Roi.from_alignment_points(pixels[0], pixels[1])))
        return out


def search_input_shape(width: int, height: int, long_side: int = _SEARCH_LONG_SIDE) -> tuple[int, int]:
    """Detector input (width, height) for the search: the image's aspect, sides multiples of 32."""
    short = max(32, round(min(width, height) * long_side / max(width, height) / 32) * 32)
    return (long_side, short) if width >= height else (short, long_side)


class LiteRTEngine:
    """BlazePose on LiteRT (one CPU core per engine; not thread-safe)."""

    def __init__(self, task_bundle: bytes, settings: EngineSettings, mode: RunningMode = "image") -> None:
        detector, landmarks = _bundle_networks(task_bundle)
        self._detector = _Detector(detector)
        self._landmarks = _Network(landmarks)
        self._roles = {
            **self._detector.roles,
            **_output_roles(self._landmarks.output_shapes, self._landmarks.input_size),
        }
        missing = {"boxes", "scores", "landmarks", "presence", "mask", "heatmap", "world"} - set(self._roles)
        if missing:
            raise ModelUnavailableError(f"not a BlazePose model: no {', '.join(sorted(missing))} output")
        if not settings.segmentation:
            self._landmarks = self._without_mask(landmarks)
        self.mode: RunningMode = mode
        self.settings = settings
        self._tracked: list[Roi] = []
        self._smoother: OneEuroSmoother | None = None
        self._clock = VideoClock()

    def _without_mask(self, landmarks: bytes) -> _Network:
        """The landmark network without its segmentation head, or the full one if that fails."""
        try:
            return _Network(without_outputs(landmarks, {self._roles["mask"]}))
        except (ImportError, AttributeError, ModelUnavailableError):  # a LiteRT without its schema module
            return self._landmarks

    # -- detector ------------------------------------------------------------------------------

    def detect(self, rgb: np.ndarray) -> list[tuple[float, Roi]]:
        """Pose detector candidates as (score, landmark ROI), best first, after suppression."""
        return self._detector.detect(rgb, self.settings.min_detection_confidence)

    # -- landmarks -----------------------------------------------------------------------------

    def landmarks(self, rgb: np.ndarray, roi: Roi) -> _Person | None:
        """The person in `roi`, or None when the model's presence score is below the threshold.

        The person's segmentation mask comes too when the engine was created with segmentation.
        """
        if not roi.side >= _MIN_ROI_SIDE:  # also catches NaN from a degenerate detection
            return None
        with_mask = self.settings.segmentation
        size = self._landmarks.input_size
        crop = cv2.warpAffine(
            rgb,
            roi.crop_matrix(size),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        tensor = crop.astype(np.float32) * np.float32(1.0 / 255.0)
        roles = ("landmarks", "presence", "heatmap", "world") + (("mask",) if with_mask else ())
        outputs = self._landmarks.run(tensor[None], tuple(self._roles[role] for role in roles))
        raw, flag, heatmap, world = outputs[:4]
        presence = float(flag.ravel()[0])
        if presence < self.settings.min_presence_confidence:
            return None
        points = raw.reshape(_NUM_MODEL_LANDMARKS, 5).astype(np.float64)
        unit = points[:, :2] / size
        unit = _refine_with_heatmap(unit, heatmap[0])
        to_image = roi.to_image()
        landmarks = np.empty((_NUM_MODEL_LANDMARKS, 5), dtype=np.float64)
        landmarks[:, :2] = unit @ to_image[:, :2].T + to_image[:, 2]
        landmarks[:, 2] = points[:, 2] / size * (roi.side / rgb.shape[1])
        landmarks[:, 3] = _sigmoid(points[:, 3])
        landmarks[:, 4] = _sigmoid(points[:, 4])
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        w = world.reshape(_NUM_MODEL_LANDMARKS, 3)[:NUM_LANDMARKS].astype(np.float64)
        world_rotated = np.column_stack([c * w[:, 0] - s * w[:, 1], s * w[:, 0] + c * w[:, 1], w[:, 2]])
        mask = None
        if with_mask:
            mask = _project_mask(outputs[4][0, :, :, 0], roi, rgb.shape[1], rgb.shape[0])
        return _Person(landmarks, world_rotated, presence, roi, mask)

    # -- the PoseEngine interface --------------------------------------------------------------

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """Poses in one RGB uint8 image (video mode: tracked from the previous frame)."""
        check_rgb(rgb)
        if self.mode == "image" and self.settings.search:
            return self._search(rgb)
        if self.mode == "video":
            timestamp_ms = self._clock.advance(timestamp_ms)
        height, width = rgb.shape[:2]
        rois = self._rois_for(rgb)
        tracked = min(len(self._tracked), self.settings.num_poses)  # the first `tracked` rois
        found = [(k, self.landmarks(rgb, roi)) for k, roi in enumerate(rois)]
        people = [p for _k, p in found if p]
        still_tracked = sum(1 for k, p in found if p and k < tracked)
        people = _distinct(people, (width, height), still_tracked)
        frame = _to_pose_frame(people, (width, height), float(timestamp_ms))
        if self.mode == "video":
            self._tracked = [p.next_roi() for p in people]
            frame = self._filtered(frame, [roi.side for roi in self._tracked], was_tracking=tracked > 0)
        return frame

    def _search(self, rgb: np.ndarray) -> PoseFrame:
        """Image mode, looking for everyone: the detector's 224x224 view of the whole image
        finds the most prominent person; small and half-hidden people need a closer look.

        1. The detector runs once on an input twice as large (448 px on the long side, the
           image's aspect), so people look twice as large; candidates down to 0.3x
           min_detection_confidence are kept. A candidate that fills the frame (region side
           >= the image's long side) is larger than any person the detector learnt from at
           that scale: it is replaced by what the detector's usual 224x224 view finds.
        2. Each candidate, most confident first, gets one landmark run. A weak (second-chance)
           candidate gets a second run on the region its landmarks give, as tracking would,
           unless that region is nearly the one used (IoU >= 0.9): a weak detection frames
           the person loosely (this raises their OKS on the COCO photos by 0.06 on average).
           Confident ones are used as MediaPipe uses them.
        3. A weak candidate counts only when its landmarks are confidently inside the image
           (mean presence >= 0.9): this drops faces the detector sees in clutter.
        4. Repeats go (`_distinct`, best-framed first): OKS >= 0.5 with a kept person, or a box
           80% inside a kept person's box and less than half its area (a limb taken for a
           person; people behind others are usually about as large).
        """
        height, width = rgb.shape[:2]
        settings = self.settings
        min_score = settings.min_detection_confidence
        weaker = min_score * _SEARCH_SCORE_FACTOR
        close = self._detector.detect(rgb, min_score, search_input_shape(width, height), weaker)
        candidates = [(score, roi) for score, roi in close if roi.side < max(width, height)]
        if len(candidates) < len(close):  # someone fills the frame: the usual view sees them
            candidates = self._detector.detect(rgb, min_score, second_chance=weaker) + candidates
        people: list[_Person] = []
        found_at: list[Roi] = []  # the regions people were found in
        for score, roi in candidates:
            if len(people) >= settings.num_poses:
                break
            if any(roi.same_centre(seen) for seen in found_at):  # overlapping people stay apart
                continue
            person = self._framed(rgb, roi, look_again=score < min_score)
            if person is None:
                continue
            if score < min_score and person.mean_presence < _SECOND_CHANCE_PRESENCE:
                continue
            found_at += [roi, person.next_roi()]
            ranked = sorted([*people, person], key=lambda p: -p.framing)
            kept = _distinct(ranked, (width, height), parts_of_any=True)
            people = [p for p in [*people, person] if any(p is k for k in kept)]
        return _to_pose_frame(people, (width, height), 0.0)

    def _framed(self, rgb: np.ndarray, roi: Roi, look_again: bool) -> _Person | None:
        """The person in `roi`; with `look_again`, looked at again in the region their landmarks
        give, unless that region is nearly the one used (nothing to gain from a second run)."""
        person = self.landmarks(rgb, roi)
        if person is None or not look_again or person.framing >= _WELL_FRAMED:
            return person
        return self.landmarks(rgb, person.next_roi()) or person

    def _filtered(self, frame: PoseFrame, roi_sides: list[float], was_tracking: bool) -> PoseFrame:
        """MediaPipe's landmark smoothing in video mode: its One Euro filter (min cutoff 0.05,
        beta 80; world 0.1, 40; speeds relative to the crop's side) on a single tracked person,
        restarted whenever tracking was lost. Like MediaPipe Tasks, several people are returned
        unfiltered."""
        if self.settings.num_poses != 1 or len(frame) != 1:
            self._smoother = None
            return frame
        if self._smoother is None or not was_tracking:
            self._smoother = OneEuroSmoother()
        return self._smoother.update(frame.replace(track_id=[0]), roi_sides).replace(track_id=None)

    def _rois_for(self, rgb: np.ndarray) -> list[Roi]:
        """ROIs to run the landmark model on: tracked people first, then new detections."""
        wanted = self.settings.num_poses
        rois = list(self._tracked[:wanted])  # only video mode tracks
        if len(rois) < wanted:
            for _score, roi in self.detect(rgb):
                if len(rois) >= wanted:
                    break
                if not any(roi.same_place(kept, self.settings.min_tracking_confidence) for kept in rois):
                    rois.append(roi)
        return rois

    def close(self) -> None:
        self._tracked, self._smoother = [], None

    def __enter__(self) -> LiteRTEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _distinct(
    people: list[_Person], image_size: tuple[int, int], tracked: int = 0, parts_of_any: bool = False
) -> list[_Person]:
    """People in order (the `tracked` ones first) without those repeating an earlier one.

    A repeat has OKS >= 0.5 with an earlier person: two ROIs can converge on one person
    (MediaPipe Tasks then returns the person twice); the later copy is dropped, so its ROI stops
    being tracked and the detector can look for others. A part is a person whose box lies at
    least 80% inside a kept person's box: a newly detected person inside a tracked one is
    that person seen again; with `parts_of_any` (image search), anybody inside a kept person
    whose box is more than twice as large.
    """
    if len(people) < 2:
        return people
    frame = _to_pose_frame(people, image_size, 0.0)
    similarity = pairwise_oks(frame, frame)
    boxes = frame.boxes
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    for i in range(len(people)):
        repeats = any(max(similarity[i, j], similarity[j, i]) >= DUPLICATE_OKS for j in kept)
        if parts_of_any:
            wholes = [j for j in kept if areas[i] < _PART_AREA * areas[j]]
        else:
            wholes = [j for j in kept if j < tracked] if i >= tracked else []
        part = any(_inside(boxes[i], boxes[j]) >= _PART_INSIDE for j in wholes)
        if not (repeats or part):
            kept.append(i)
    return [people[i] for i in kept]


def _inside(box: np.ndarray, other: np.ndarray) -> float:
    """The fraction of `box` (x0, y0, x1, y1) that lies inside `other`."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return float(max(width, 0) * max(height, 0) / area) if area > 0 else 1.0


def _weighted_nms(
    corners: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, threshold: float, confident: float = 0.0
) -> list[tuple[float, np.ndarray]]:
    """MediaPipe's weighted NMS: each cluster (IoU > threshold with its best box) is averaged by score.

    Returns (score of the best box, score-weighted keypoints (4, 2)) per cluster, best first.
    A cluster whose best box reaches `confident` is averaged over its boxes that reach it too,
    so weaker boxes let in for a second chance leave MediaPipe's own detections unchanged.
    """
    order = np.argsort(-scores, kind="stable")
    corners, keypoints, scores = corners[order], keypoints[order], scores[order]
    areas = np.prod(np.clip(corners[:, 2:] - corners[:, :2], 0, None), axis=1)
    remaining = np.arange(len(scores))
    out = []
    while remaining.size:
        best = remaining[0]
        lo = np.maximum(corners[remaining, :2], corners[best, :2])
        hi = np.minimum(corners[remaining, 2:], corners[best, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        union = areas[remaining] + areas[best] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
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


def _refine_with_heatmap(unit: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap: each landmark moves to the confidence-weighted
    centre of the 7x7 heatmap cells around it, when the most confident cell reaches 0.5."""
    rows_n, cols_n, channels = heatmap.shape
    half = (_HEATMAP_KERNEL - 1) // 2
    centre_col = (unit[:channels, 0] * cols_n).astype(np.int64)
    centre_row = (unit[:channels, 1] * rows_n).astype(np.int64)
    inside = (centre_col >= 0) & (centre_col < cols_n) & (centre_row >= 0) & (centre_row < rows_n)
    steps = np.arange(-half, half + 1)
    rows = centre_row[:, None] + steps  # (39, 7)
    cols = centre_col[:, None] + steps
    valid = ((rows >= 0) & (rows < rows_n))[:, :, None] & ((cols >= 0) & (cols < cols_n))[:, None, :]
    channel = np.arange(channels)[:, None, None]
    row_index, col_index = np.clip(rows, 0, rows_n - 1), np.clip(cols, 0, cols_n - 1)
    values = heatmap[row_index[:, :, None], col_index[:, None, :], channel]
    confidence = np.where(valid, _sigmoid(values.astype(np.float64)), 0.0)
    total = confidence.sum(axis=(1, 2))
    refine = inside & (confidence.max(axis=(1, 2)) >= _HEATMAP_MIN_CONFIDENCE) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    col_mean = (confidence * cols[:, None, :]).sum(axis=(1, 2)) / safe
    row_mean = (confidence * rows[:, :, None]).sum(axis=(1, 2)) / safe
    out = unit.copy()
    out[:channels][refine, 0] = col_mean[refine] / cols_n
    out[:channels][refine, 1] = row_mean[refine] / rows_n
    return out


def _project_mask(logits: np.ndarray, roi: Roi, width: int, height: int) -> np.ndarray:
    """The ROI's segmentation (sigmoid of the logits) warped back onto the whole image."""
    size = logits.shape[0]
    to_image = roi.to_image()
    to_image[:, :2] /= size
    return cv2.warpAffine(
        _sigmoid(logits).astype(np.float32),
        to_image,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def _to_pose_frame(people: list[_Person], image_size: tuple[int, int], timestamp_ms: float) -> PoseFrame:
    if not people:
        return PoseFrame.empty(image_size, timestamp_ms)
    landmarks = np.stack([p.landmarks[:NUM_LANDMARKS] for p in people])
    presence = landmarks[:, :, 4]
    masks = np.stack([p.mask for p in people]) if people[0].mask is not None else None
    return PoseFrame(
        image_size=image_size,
        xy=landmarks[:, :, :2],
        z=landmarks[:, :, 2],
        visibility=landmarks[:, :, 3],
        presence=presence,
        world=np.stack([p.world for p in people]),
        score=presence.mean(axis=1),
        timestamp_ms=timestamp_ms,
        masks=masks,
    )
