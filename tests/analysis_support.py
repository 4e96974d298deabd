"""Shared by the tests/test_analysis_*.py files: real poses to build on, and synthetic motions.

Synthetic motions start from a real pose (MediaPipe's reference world landmarks for frame 0
of mediapipe/pose_squats.mp4: a woman standing, front view) and rotate its limbs about
their joints, so angles are computed on realistic proportions. `frame` projects world
landmarks to a 1280x720 image seen from the front or from the person's left side.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np

from localpose.result import PoseFrame
from localpose.schema import LANDMARK_INDEX as I

LAT = np.array([1.0, 0.0, 0.0])
"""The person's left-right axis (their left is +x); a positive turn about it tips the top forward."""
FWD = np.array([0.0, 0.0, -1.0])
"""The direction the person faces (towards the camera)."""
UP = np.array([0.0, -1.0, 0.0])
FEET = [I[f"{s}_{p}"] for s in ("left", "right") for p in ("ankle", "heel", "foot_index")]
SHANKS = [*FEET, I["left_knee"], I["right_knee"]]
HEAD_ARMS = list(range(23))
HAND = ("wrist", "pinky", "index", "thumb")
LEG = ("knee", "ankle", "heel", "foot_index")


def rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    a = math.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


@cache
def _standing(data_dir: Path) -> np.ndarray:
    d = json.loads((data_dir / "mediapipe" / "pose_squats_expected.json").read_text())
    w = np.array(d["world_xyz_m"][0], dtype=np.float64)
    hips = w[I["left_hip"]] - w[I["right_hip"]]
    yaw = math.degrees(math.atan2(hips[2], hips[0]))
    return w @ rotation(UP * -1, -yaw).T  # hip line along +x: the person faces the camera


def standing(data_dir: Path) -> np.ndarray:
    """(33, 3) real standing pose in metres, hip line along +x, facing -z."""
    return _standing(data_dir).copy()


def chain(side: str, *parts: str) -> list[int]:
    return [I[f"{side}_{p}"] for p in parts]


def mid(p: np.ndarray, a: str, b: str) -> np.ndarray:
    return (p[I[a]] + p[I[b]]) / 2


def turn(p: np.ndarray, idx: list[int], pivot: np.ndarray, axis: np.ndarray, degrees: float) -> np.ndarray:
    out = p.copy()
    out[idx] = (p[idx] - pivot) @ rotation(axis, degrees).T + pivot
    return out


def squat(p: np.ndarray, q: float, lean: float = 20.0) -> np.ndarray:
    """q 0..1: shanks tip forward 30q, knees bend 105q, trunk leans `lean` q from its thighs' line."""
    a, k = 30.0 * q, 105.0 * q
    p = turn(p, [i for i in range(33) if i not in FEET], mid(p, "left_ankle", "right_ankle"), LAT, a)
    p = turn(p, [i for i in range(33) if i not in SHANKS], mid(p, "left_knee", "right_knee"), LAT, -k)
    return turn(p, HEAD_ARMS, mid(p, "left_hip", "right_hip"), LAT, k - a + lean * q)


def lunge(p: np.ndarray, q: float) -> np.ndarray:
    """Left leg forward (thigh to horizontal, knee 90q), right leg back and bent."""
    p = turn(p, chain("left", *LEG), p[I["left_hip"]], LAT, -90 * q)
    p = turn(p, chain("left", *LEG[1:]), p[I["left_knee"]], LAT, 90 * q)
    p = turn(p, chain("right", *LEG), p[I["right_hip"]], LAT, 15 * q)
    return turn(p, chain("right", *LEG[1:]), p[I["right_knee"]], LAT, 75 * q)


def pushup(p: np.ndarray, q: float, flare: bool = False, sag: float = 0.0) -> np.ndarray:
    """A plank (body tipped 80 degrees forward) with elbows bending 100q; tucked or flared arms."""
    for side, sign in (("left", 1), ("right", -1)):
        arm = chain(side, "elbow", *HAND)
        p = turn(p, arm, p[I[f"{side}_shoulder"]], LAT, -90)
        if flare:
            p = turn(p, arm, p[I[f"{side}_shoulder"]], UP, sign * 70 * q)
            p = turn(p, chain(side, *HAND), p[I[f"{side}_elbow"]], UP, -sign * 100 * q)
        else:
            p = turn(p, arm, p[I[f"{side}_shoulder"]], LAT, 60 * q)
            p = turn(p, chain(side, *HAND), p[I[f"{side}_elbow"]], LAT, -100 * q)
    legs = chain("left", *LEG) + chain("right", *LEG)
    p = turn(p, legs, mid(p, "left_hip", "right_hip"), LAT, sag)
    return turn(p, list(range(33)), mid(p, "left_ankle", "right_ankle"), LAT, 80)


def jumping_jack(p: np.ndarray, q: float, arms: float = 170.0, legs: float = 12.0) -> np.ndarray:
    for side, sign in (("left", 1), ("right", -1)):
        p = turn(p, chain(side, "elbow", *HAND), p[I[f"{side}_shoulder"]], FWD, sign * arms * q)
        p = turn(p, chain(side, *LEG), p[I[f"{side}_hip"]], FWD, sign * legs * q)
    return p


def situp(p: np.ndarray, q: float) -> np.ndarray:
    """Lying on the back, the trunk rising 80q degrees."""
    p = turn(p, list(range(33)), mid(p, "left_hip", "right_hip"), LAT, -90)
    return turn(p, HEAD_ARMS, mid(p, "left_hip", "right_hip"), LAT, 80 * q)


def curl(p: np.ndarray, q: float, drift: float = 0.0) -> np.ndarray:
    """Left forearm curls 140q degrees; `drift` swings the upper arm forward by drift*q."""
    p = turn(p, chain("left", "elbow", *HAND), p[I["left_shoulder"]], LAT, -drift * q)
    return turn(p, chain("left", *HAND), p[I["left_elbow"]], LAT, -140 * q)


def frame(world: np.ndarray, t_ms: float, view: str = "front", visibility: float = 0.95) -> PoseFrame:
    """A one-person frame: world landmarks and their orthographic projection (400 px per metre)."""
    across = LAT if view == "front" else FWD
    xy = np.stack([640 + 400 * world @ across, 360 + 400 * world[:, 1]], axis=1)
    return PoseFrame(
        image_size=(1280, 720),
        xy=xy[None],
        z=np.zeros((1, 33)),
        visibility=np.full((1, 33), visibility),
        presence=np.ones((1, 33)),
        world=world[None],
        score=[0.9],
        timestamp_ms=t_ms,
    )


def ease(tau: np.ndarray) -> np.ndarray:
    """0 -> 1 -> 0 over tau in [0, 1]."""
    return np.sin(np.pi * np.clip(tau, 0, 1)) ** 2


@cache
def _golden_squats(data_dir: Path) -> tuple[PoseFrame, ...]:
    d = json.loads((data_dir / "mediapipe" / "pose_squats_expected.json").read_text())
    frames = []
    for k, (pixels, world) in enumerate(zip(d["pixel_xyz"], d["world_xyz_m"], strict=True)):
        pixels = np.asarray(pixels, dtype=np.float64)
        frames.append(
            PoseFrame(
                image_size=(d["width"], d["height"]),
                xy=pixels[None, :, :2],
                z=np.zeros((1, 33)),
                visibility=np.ones((1, 33)),
                presence=np.ones((1, 33)),
                world=np.asarray(world)[None],
                score=[1.0],
                timestamp_ms=1000.0 * k / d["fps"],
            )
        )
    return tuple(frames)


def golden_squats(data_dir: Path) -> list[PoseFrame]:
    """MediaPipe's reference predictions for the 65 frames of mediapipe/pose_squats.mp4 (5 fps)."""
    return list(_golden_squats(data_dir))


_POSES: dict[Path, tuple[PoseFrame, ...]] = {}


def video_poses(path: Path, model) -> list[PoseFrame]:
    """Real inference on every frame of a video, tracked (cached for the whole test session)."""
    from localpose.video import estimate_video

    if path not in _POSES:
        _POSES[path] = tuple(estimate_video(path, model=model))
    return list(_POSES[path])


def video_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """Some frames of a video as RGB arrays."""
    from localpose.video import read_frames

    wanted = set(indices)
    return {k: rgb for k, (rgb, _) in enumerate(read_frames(path)) if k in wanted}
