"""MoveNet's input preparation and output decoding as pure numpy functions.

Single-pose networks (Lightning 192, Thunder 256) see a square crop of the image, resampled
the way TF's `crop_and_resize` does; the crop follows the person from frame to frame by
tfjs's rule (`next_crop`). MultiPose sees the whole image scaled so that its long side is
`multipose_input_side(...)` and padded at the bottom/right to multiples of 32.
Networks take int32 RGB 0-255 and give normalised [y, x, score] triplets; the decoders turn
them into image pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from localpose.schema import COCO17_NAMES

__all__ = [
    "KEYPOINT_NAMES",
    "MIN_CROP_KEYPOINT_SCORE",
    "MULTIPOSE_MIN_SCORE",
    "Crop",
    "MoveNetPoses",
    "MultiPoseInput",
    "blend_crops",
    "crop_around_box",
    "crop_from_keypoints",
    "decode_multipose",
    "decode_single",
    "first_crop",
    "full_crop",
    "multipose_input_side",
    "next_crop",
    "prepare_multipose",
    "prepare_single",
    "sample_bilinear",
]

KEYPOINT_NAMES: tuple[str, ...] = COCO17_NAMES
"""MoveNet's 17 keypoints, COCO's order."""

MIN_CROP_KEYPOINT_SCORE = 0.2
"""tfjs's threshold: keypoints scored above it place the next crop."""

_SHOULDERS_HIPS = (5, 6, 11, 12)
_HIPS = (11, 12)
_TORSO_REACH = 1.9  # tfjs: the crop's half side covers 1.9x the torso's reach from mid-hips...
_BODY_REACH = 1.2  # ...and 1.2x the farthest confident keypoint's
CROP_BLEND = 0.9
"""tfjs's low-pass weight of the new crop against the previous one (per edge)."""

MULTIPOSE_MIN_SCORE = 0.2
"""MultiPose people scored below this are dropped by default: on the shared COCO and CrowdPose
photos every annotated person found scored >= 0.21 and every other proposal <= 0.12 (tfjs's
keypoint threshold, 0.2, sits in that gap)."""

MULTIPOSE_DIVISOR = 32
MULTIPOSE_MIN_SIDE = 256
MULTIPOSE_MAX_SIDE = 512
MULTIPOSE_DOWNSCALE = 2.5


@dataclass(frozen=True)
class Crop:
    """An axis-aligned region as fractions of the image (may reach outside it: zero padding)."""

    y_min: float
    x_min: float
    y_max: float
    x_max: float

    @property
    def height(self) -> float:
        return self.y_max - self.y_min

    @property
    def width(self) -> float:
        return self.x_max - self.x_min


@dataclass(frozen=True)
class MoveNetPoses:
    """People found by a MoveNet network, in image pixels.

    keypoints (n, 17, 2) x, y; keypoint_scores (n, 17); boxes (n, 4) x0, y0, x1, y1;
    scores (n,): the mean of keypoint scores above 0.2 for single-pose networks (tfjs's rule),
    the network's own person score for MultiPose.
    """

    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def concatenate(cls, parts: list[MoveNetPoses]) -> MoveNetPoses:
        """All people of several MoveNetPoses in one, in order (none: an empty one)."""
        if not parts:
            return cls(np.zeros((0, 17, 2)), np.zeros((0, 17)), np.zeros((0, 4)), np.zeros(0))
        return cls(
            np.concatenate([p.keypoints for p in parts]),
            np.concatenate([p.keypoint_scores for p in parts]),
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )

    def __getitem__(self, index: object) -> MoveNetPoses:
        """The people selected by an index, a slice or a boolean mask, as MoveNetPoses."""
        pick = np.arange(len(self))[index]  # type: ignore[index]
        pick = np.atleast_1d(pick)
        return MoveNetPoses(
            self.keypoints[pick], self.keypoint_scores[pick], self.boxes[pick], self.scores[pick]
        )


@dataclass(frozen=True)
class MultiPoseInput:
    """A MultiPose input tensor and how its pixels map back to the image's."""

    tensor: np.ndarray  # (1, H, W, 3) int32, H and W multiples of 32
    scale: tuple[float, float]  # input pixels per image pixel, (x, y)


def sample_bilinear(rgb: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The image sampled bilinearly at every (row, col) pair of the two coordinate vectors.

    Coordinates are in pixels of `rgb` (pixel centres at integers); samples outside
    [0, size-1] are 0, as in TF's `crop_and_resize` with extrapolation value 0.
    Returns (len(rows), len(cols), channels) float32.
    """
    height, width = rgb.shape[:2]
    out = np.zeros((len(rows), len(cols), rgb.shape[2]), np.float32)
    row_ok = (rows >= 0) & (rows <= height - 1)
    col_ok = (cols >= 0) & (cols <= width - 1)
    if not row_ok.any() or not col_ok.any():
        return out
    r, c = rows[row_ok], cols[col_ok]
    r0 = np.floor(r).astype(np.intp)
    c0 = np.floor(c).astype(np.intp)
    r1 = np.minimum(r0 + 1, height - 1)
    c1 = np.minimum(c0 + 1, width - 1)
    fr = (r - r0).astype(np.float32)[:, None, None]
    fc = (c - c0).astype(np.float32)[None, :, None]
    top = rgb[r0][:, c0].astype(np.float32) * (1 - fc) + rgb[r0][:, c1].astype(np.float32) * fc
    bottom = rgb[r1][:, c0].astype(np.float32) * (1 - fc) + rgb[r1][:, c1].astype(np.float32) * fc
    out[np.ix_(row_ok, col_ok)] = top * (1 - fr) + bottom * fr
    return out


def prepare_single(rgb: np.ndarray, crop: Crop, side: int) -> np.ndarray:
    """The (1, side, side, 3) int32 input of a single-pose network for one crop of an RGB image.

    Same sampling as tfjs (`tf.image.cropAndResize`, bilinear, zero outside, then truncated
    to int32): output pixel i samples image row y_min*(H-1) + i*height*(H-1)/(side-1).
    """
    height, width = rgb.shape[:2]
    steps = np.arange(side, dtype=np.float64) / (side - 1)
    rows = (crop.y_min + steps * crop.height) * (height - 1)
    cols = (crop.x_min + steps * crop.width) * (width - 1)
    return sample_bilinear(rgb, rows, cols).astype(np.int32)[None]


def decode_single(output: np.ndarray, crop: Crop, image_size: tuple[int, int]) -> MoveNetPoses:
    """One person from a single-pose output (1, 1, 17, 3) of [y, x, score] in the crop.

    Keypoints go to image pixels as tfjs maps them (crop fraction times crop size plus
    its corner, times the image size); the score is tfjs's: the mean of keypoint scores
    above 0.2 (0 when none is).
    """
    width, height = image_size
    triplets = np.asarray(output, np.float64).reshape(17, 3)
    x = (crop.x_min + triplets[:, 1] * crop.width) * width
    y = (crop.y_min + triplets[:, 0] * crop.height) * height
    scores = triplets[:, 2]
    confident = scores > MIN_CROP_KEYPOINT_SCORE
    score = float(scores[confident].mean()) if confident.any() else 0.0
    keypoints = np.stack([x, y], axis=1)
    boxed = keypoints[confident] if confident.any() else keypoints
    box = np.concatenate([boxed.min(axis=0), boxed.max(axis=0)])
    return MoveNetPoses(keypoints[None], scores[None], box[None], np.array([score]))


def first_crop(image_size: tuple[int, int]) -> Crop:
    """tfjs's crop for a first frame: the largest centred square inside the image."""
    width, height = image_size
    if width > height:
        return Crop(0.0, (width - height) / 2 / width, 1.0, (width + height) / 2 / width)
    return Crop((height - width) / 2 / height, 0.0, (height + width) / 2 / height, 1.0)


def full_crop(image_size: tuple[int, int]) -> Crop:
    """The whole image padded on both short sides to a square (tfjs's crop when lost)."""
    width, height = image_size
    if width > height:
        return Crop((height - width) / 2 / height, 0.0, (height + width) / 2 / height, 1.0)
    return Crop(0.0, (width - height) / 2 / width, 1.0, (width + height) / 2 / width)


def crop_from_keypoints(
    keypoints: np.ndarray, scores: np.ndarray, image_size: tuple[int, int]
) -> Crop | None:
    """tfjs's square crop around one person's keypoints (pixels), or None without a torso.

    Centre: mid-hips. Half side: the larger of 1.9x the farthest shoulder/hip from the
    centre and 1.2x the farthest keypoint scored >= 0.2 (per axis), no more than the
    centre's distance to the farthest image edge. None when no hip or no shoulder is
    scored above 0.2, or when the square would exceed half the image's long side (tfjs then
    runs on the whole image).
    """
    width, height = image_size
    points = np.asarray(keypoints, np.float64)
    scores = np.asarray(scores, np.float64)
    confident = scores > MIN_CROP_KEYPOINT_SCORE
    if not (confident[[11, 12]].any() and confident[[5, 6]].any()):
        return None
    centre = points[list(_HIPS)].mean(axis=0)
    torso = np.abs(points[list(_SHOULDERS_HIPS)] - centre).max(axis=0)
    body_points = points[scores >= MIN_CROP_KEYPOINT_SCORE]
    body = np.abs(body_points - centre).max(axis=0) if len(body_points) else np.zeros(2)
    half = max(_TORSO_REACH * torso.max(), _BODY_REACH * body.max())
    cx, cy = centre
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(width, height) / 2:
        return None
    return Crop((cy - half) / height, (cx - half) / width, (cy + half) / height, (cx + half) / width)


def crop_around_box(box: np.ndarray, image_size: tuple[int, int], margin: float = 1.25) -> Crop:
    """A square crop centred on a pixel box (x0, y0, x1, y1), its side `margin` x the box's long side."""
    width, height = image_size
    x0, y0, x1, y1 = (float(v) for v in box)
    half = margin * max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return Crop((cy - half) / height, (cx - half) / width, (cy + half) / height, (cx + half) / width)


def blend_crops(previous: Crop | None, new: Crop, weight: float = CROP_BLEND) -> Crop:
    """tfjs's low-pass filter on the crop's edges: weight x new + (1 - weight) x previous."""
    if previous is None:
        return new

    def mix(a: float, b: float) -> float:
        return weight * b + (1 - weight) * a

    return Crop(
        mix(previous.y_min, new.y_min),
        mix(previous.x_min, new.x_min),
        mix(previous.y_max, new.y_max),
        mix(previous.x_max, new.x_max),
    )


def next_crop(previous: Crop, pose: MoveNetPoses, image_size: tuple[int, int]) -> Crop:
    """The crop for the next video frame from this frame's person (tfjs's tracking rule).

    The square around the person's keypoints (`crop_from_keypoints`), or the padded whole
    image without a torso, blended with the previous crop (`blend_crops`).
    """
    around = crop_from_keypoints(pose.keypoints[0], pose.keypoint_scores[0], image_size)
    return blend_crops(previous, around if around is not None else full_crop(image_size))


def multipose_input_side(image_size: tuple[int, int]) -> int:
    """MultiPose's input long side for an image: 256 for photos, up to 512 for large frames.

    The image's long side / 2.5, rounded to a multiple of 32, kept within 256-512: photos up
    to 679 px run at 256, a 960 px frame at 384, 1280 px and larger at 512.
    Measured on the shared annotated photos (people found at OKS > 0.5, person score >= 0.2):
    COCO's and CrowdPose's 500-640 px photos gain nothing above 256 (CrowdPose loses one of 4
    people at 512 and more, as the photo gets upscaled); PoseTrack's 1920x1080 frames find 2
    of 14 at 256, 3 at 384, 5 at 512 and no more at 640 or 768, which take 1.6x and 2.4x the
    time of 512.
    """
    long_side = max(image_size)
    side = MULTIPOSE_DIVISOR * round(long_side / MULTIPOSE_DOWNSCALE / MULTIPOSE_DIVISOR)
    return int(min(max(side, MULTIPOSE_MIN_SIDE), MULTIPOSE_MAX_SIDE))


def prepare_multipose(rgb: np.ndarray, long_side: int | None = None) -> MultiPoseInput:
    """MultiPose's input: the image scaled to `long_side` (default by the image size), padded.

    Scaled with its aspect kept (bilinear, as tfjs's `resizeBilinear`), padded with black at
    the bottom and right to multiples of 32, int32.
    """
    height, width = rgb.shape[:2]
    side = long_side if long_side is not None else multipose_input_side((width, height))
    if side % MULTIPOSE_DIVISOR:
        raise ValueError(f"MultiPose's input side must be a multiple of 32, got {side}")
    scale = side / max(width, height)
    resized_w, resized_h = max(1, round(width * scale)), max(1, round(height * scale))
    padded_w = math.ceil(resized_w / MULTIPOSE_DIVISOR) * MULTIPOSE_DIVISOR
    padded_h = math.ceil(resized_h / MULTIPOSE_DIVISOR) * MULTIPOSE_DIVISOR
    rows = np.arange(resized_h) * (height / resized_h)
    cols = np.arange(resized_w) * (width / resized_w)
    tensor = np.zeros((1, padded_h, padded_w, 3), np.int32)
    tensor[0, :resized_h, :resized_w] = sample_bilinear(rgb, rows, cols).astype(np.int32)
    return MultiPoseInput(tensor, (resized_w / width, resized_h / height))


def decode_multipose(
    output: np.ndarray, prepared: MultiPoseInput, min_score: float = MULTIPOSE_MIN_SCORE
) -> MoveNetPoses:
    """People from a MultiPose output (1, 6, 56), in image pixels, best first.

    Each row: 17 x [y, x, score] and a box [y0, x0, y1, x1], both as fractions of the padded
    input, then the person's score; people scored below `min_score` are dropped.
    """
    rows = np.asarray(output, np.float64).reshape(-1, 56)
    _, padded_h, padded_w, _ = prepared.tensor.shape
    to_image = np.array([padded_w, padded_h]) / np.array(prepared.scale)
    triplets = rows[:, :51].reshape(-1, 17, 3)
    keypoints = triplets[:, :, [1, 0]] * to_image
    boxes = rows[:, [52, 51, 54, 53]] * np.tile(to_image, 2)
    order = np.argsort(-rows[:, 55], kind="stable")
    order = order[rows[order, 55] >= min_score]
    return MoveNetPoses(keypoints[order], triplets[order, :, 2], boxes[order], rows[order, 55])
