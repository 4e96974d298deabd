"""MoveNet as a model family: COCO-17 2D keypoints from MultiPose proposals and a single-pose network.

  image mode   MultiPose proposes the people (`localpose.crowd.ProposalNetwork`, with its tiles
               for large frames); the single-pose network (Thunder 256 or Lightning 192) runs on
               tfjs's square crop around each proposal's keypoints (its box, 1.25x, without a
               torso); a person's score is tfjs's (the mean of keypoint scores above 0.2) times
               the agreement with its proposal (`localpose.crowd.agreement`), and people below
               0.5 agreement are dropped; repeats go by `localpose.metrics.distinct_in_order`.
  video mode   one person: tfjs's own tracking, the crop following the person from frame to
               frame (`processing.next_crop`); several people: the image-mode stage on every
               frame (ids come from `localpose.track.PoseTracker` downstream).

Frames hold ``coco17`` keypoints: `visibility` and `presence` are the keypoint scores, `z` and
`world` zeros (`PoseFrame.has_world` is False).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from localpose.crowd import ProposalNetwork, agreement
from localpose.engine.interface import RunningMode, VideoClock, check_rgb
from localpose.metrics import DUPLICATE_OKS, distinct_in_order, most_prominent
from localpose.movenet.network import MoveNetNetwork
from localpose.movenet.processing import (
    Crop,
    MoveNetPoses,
    crop_around_box,
    crop_from_keypoints,
    decode_single,
    first_crop,
    next_crop,
    prepare_single,
)
from localpose.options import EstimatorOptions
from localpose.result import PoseFrame

__all__ = ["MIN_POSE_SCORE", "MoveNetEngine", "to_pose_frame"]

MIN_POSE_SCORE = 0.25
"""tfjs's default minPoseScore: a single-pose result scored below it holds no person."""
SKELETON = "coco17"


def to_pose_frame(poses: MoveNetPoses, image_size: tuple[int, int], timestamp_ms: float = 0.0) -> PoseFrame:
    """MoveNet people as a ``coco17`` PoseFrame (scores as visibility and presence, no depth)."""
    if len(poses) == 0:
        return PoseFrame.empty(image_size, timestamp_ms, SKELETON)
    n = len(poses)
    return PoseFrame(
        image_size=image_size,
        xy=poses.keypoints,
        z=np.zeros((n, 17)),
        visibility=poses.keypoint_scores,
        presence=poses.keypoint_scores,
        world=np.zeros((n, 17, 3)),
        score=poses.scores,
        timestamp_ms=timestamp_ms,
        skeleton=SKELETON,
    )


class MoveNetEngine:
    """MoveNet MultiPose and a single-pose network on LiteRT (not thread-safe)."""

    def __init__(
        self,
        networks: Mapping[str, bytes],
        options: EstimatorOptions,
        mode: RunningMode = "image",
        threads: int = 1,
    ) -> None:
        """`networks`: the model's tflite bytes by role, ``proposals`` (MultiPose) and ``keypoints``."""
        self.mode: RunningMode = mode
        self.options = options
        self._keypoints = MoveNetNetwork(networks["keypoints"], threads)
        self._proposals = ProposalNetwork(threads, networks["proposals"])
        self._crop: Crop | None = None
        self._clock = VideoClock()

    @property
    def threads(self) -> int:
        return self._keypoints.threads

    @threads.setter
    def threads(self, count: int) -> None:
        self._keypoints.threads = count
        self._proposals.threads = count

    def _single(self, rgb: np.ndarray, crop: Crop) -> MoveNetPoses:
        size = (rgb.shape[1], rgb.shape[0])
        side = self._keypoints.input_side or 256
        return decode_single(self._keypoints.run(prepare_single(rgb, crop, side)), crop, size)

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """COCO-17 keypoints of the people in one RGB image (video mode: tracked from the last frame)."""
        check_rgb(rgb)
        if self.mode == "video":
            timestamp_ms = self._clock.advance(timestamp_ms)
            if self.options.num_poses == 1:
                return self._tracked(rgb, float(timestamp_ms))
        return self._people(rgb).replace(timestamp_ms=float(timestamp_ms))

    def _tracked(self, rgb: np.ndarray, timestamp_ms: float) -> PoseFrame:
        """tfjs's single-person video rule: the crop follows the person's keypoints."""
        size = (rgb.shape[1], rgb.shape[0])
        crop = self._crop or first_crop(size)
        pose = self._single(rgb, crop)
        self._crop = next_crop(crop, pose, size)
        found = pose if pose.scores[0] >= MIN_POSE_SCORE else pose[np.zeros(1, bool)]
        return to_pose_frame(found, size, timestamp_ms)

    def _people(self, rgb: np.ndarray) -> PoseFrame:
        """MultiPose proposals, the single-pose network on each, honest scores, no repeats."""
        size = (rgb.shape[1], rgb.shape[0])
        proposals = self._proposals.propose(rgb)
        found: list[MoveNetPoses] = []
        for k in range(len(proposals)):
            crop = crop_from_keypoints(proposals.keypoints[k], proposals.keypoint_scores[k], size)
            pose = self._single(rgb, crop or crop_around_box(proposals.boxes[k], size))
            fits = agreement(to_pose_frame(pose, size), 0, proposals, k)
            if fits >= DUPLICATE_OKS and pose.scores[0] >= MIN_POSE_SCORE:
                found.append(
                    MoveNetPoses(pose.keypoints, pose.keypoint_scores, pose.boxes, pose.scores * fits)
                )
        frame = to_pose_frame(MoveNetPoses.concatenate(found), size)
        frame = frame[np.argsort(-frame.score, kind="stable")]
        distinct = distinct_in_order(frame, parts_of_any=True)
        kept = most_prominent(frame, distinct, self.options.num_poses)
        return frame[kept].replace(people_seen=len(distinct))

    def close(self) -> None:
        self._crop = None

    def __enter__(self) -> MoveNetEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
