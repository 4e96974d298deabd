"""Joint and segment angles: exact values on constructed poses, invariances, visibility, the
export helpers, and a real photo (MediaPipe's warrior-II test image)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from analysis_support import frame, rotation, standing
from localpose.analysis.angles import (
    ANGLE_NAMES,
    ANGLES,
    add_angles_to_document,
    angle_index,
    compute_angles,
    frame_angles,
    write_angles_csv,
)
from localpose.estimate import PoseEstimator
from localpose.export import frame_to_dict
from localpose.result import PoseFrame
from localpose.schema import LANDMARK_INDEX as I
from localpose.schema import NUM_LANDMARKS


def _angle(points: dict[str, tuple[float, ...]], name: str, space: str = "image") -> float:
    dims = len(next(iter(points.values())))
    landmarks = np.zeros((NUM_LANDMARKS, dims))
    for key, value in points.items():
        landmarks[I[key]] = value
    return float(compute_angles(landmarks, None, space, names=[name])[0])


def test_joint_angles_on_constructed_limbs():
    # image coordinates: y grows downwards
    straight = {"left_hip": (0, 0), "left_knee": (0, 1), "left_ankle": (0, 2)}
    assert _angle(straight, "left_knee") == pytest.approx(0.0, abs=1e-9)
    bent = {"left_hip": (0, 0), "left_knee": (0, 1), "left_ankle": (1, 1)}
    assert _angle(bent, "left_knee") == pytest.approx(90.0, abs=1e-9)
    elbow = {
        "right_shoulder": (0, 0, 0),
        "right_elbow": (0, 1, 0),
        "right_wrist": (0, 1 - 0.5 * 3**0.5, -0.5),
    }
    assert _angle(elbow, "right_elbow", "world") == pytest.approx(150.0, abs=1e-9)
    # hip: thigh forward-horizontal against an upright trunk
    hip = {"left_shoulder": (1, -2), "right_shoulder": (-1, -2), "left_hip": (1, 0), "right_hip": (-1, 0),
           "left_knee": (2, 0)}  # fmt: skip
    assert _angle(hip, "left_hip") == pytest.approx(90.0, abs=1e-9)
    # shoulder elevation: arm straight up beside an upright trunk is 180, hanging is 0
    up = {**hip, "left_elbow": (1, -3)}
    assert _angle(up, "left_shoulder") == pytest.approx(180.0, abs=1e-9)
    down = {**hip, "left_elbow": (1, -1)}
    assert _angle(down, "left_shoulder") == pytest.approx(0.0, abs=1e-9)
    # ankle: foot at right angle to the shank is 0; toes raised 20 degrees is +20
    foot = {"left_knee": (0, 0), "left_ankle": (0, 2), "left_heel": (-0.2, 2), "left_foot_index": (1, 2)}
    assert _angle(foot, "left_ankle") == pytest.approx(0.0, abs=1e-9)
    t = np.radians(20)
    raised = {**foot, "left_foot_index": (-0.2 + np.cos(t), 2 - np.sin(t))}
    assert _angle(raised, "left_ankle") == pytest.approx(20.0, abs=1e-9)


def test_segment_angle_conventions():
    hips = {"left_hip": (1, 0), "right_hip": (-1, 0), "left_shoulder": (1, -2), "right_shoulder": (-1, -2)}
    # 2D: anticlockwise on screen from the image's +x axis, in (-180, 180]
    assert _angle(hips, "trunk") == pytest.approx(90.0)
    assert _angle({**hips, "left_knee": (1, 1)}, "left_thigh") == pytest.approx(-90.0)
    assert _angle({"left_heel": (0, 0), "left_foot_index": (1, 0)}, "left_foot") == pytest.approx(0.0)
    assert _angle({"left_heel": (0, 0), "left_foot_index": (-1, 0)}, "left_foot") == 180.0
    assert _angle({"left_shoulder": (0, 0), "left_elbow": (1, -1)}, "left_arm") == pytest.approx(45.0)
    # 3D: elevation above the horizontal plane (world y points down), in [-90, 90]
    world = {"left_hip": (0.1, 0, 0), "left_knee": (0.1, 0.3, -0.3)}
    assert _angle(world, "left_thigh", "world") == pytest.approx(-45.0)
    assert _angle({"right_shoulder": (-0.2, 0, 0), "left_shoulder": (0.2, 0, 0.1)}, "shoulders", "world") == (
        pytest.approx(0.0)
    )


def test_invariances_on_a_real_pose(data_dir):
    pose = standing(data_dir)
    joints = [angle_index(a.name) for a in ANGLES if a.kind == "joint"]
    segments = [angle_index(a.name) for a in ANGLES if a.kind == "segment"]
    world = compute_angles(pose, None, "world")
    moved = pose @ rotation(np.array([0.3, -1.0, 0.2]), 73.0).T * 1.7 + [3.0, -1.0, 2.0]
    assert np.allclose(compute_angles(moved, None, "world")[joints], world[joints], atol=1e-9)
    spun = pose @ rotation(np.array([0.0, 1.0, 0.0]), 140.0).T  # about the vertical: elevations stay
    assert np.allclose(compute_angles(spun, None, "world"), world, atol=1e-9)
    image = frame(pose, 0.0).xy[0]
    flat = compute_angles(image, None, "image")
    theta = 31.0  # rotate anticlockwise on screen (y down): segment angles grow by theta
    c, s = np.cos(np.radians(theta)), np.sin(np.radians(theta))
    turned = (image - 500) @ np.array([[c, -s], [s, c]]) * 0.6 + [200, 900]
    again = compute_angles(turned, None, "image")
    assert np.allclose(again[joints], flat[joints], atol=1e-9)
    shift = (again[segments] - flat[segments] - theta + 180) % 360 - 180
    assert np.allclose(shift, 0.0, atol=1e-9)


def test_invisible_landmarks_make_exactly_their_angles_missing(data_dir):
    f = frame(standing(data_dir), 0.0)
    vis = f.visibility.copy()
    vis[0, I["left_knee"]] = 0.3
    values = frame_angles(f.replace(visibility=vis), "image")[0]
    missing = {ANGLE_NAMES[k] for k in np.flatnonzero(np.isnan(values))}
    assert missing == {"left_ankle", "left_knee", "left_hip", "left_thigh", "left_shank"}
    assert not np.isnan(frame_angles(f.replace(visibility=vis), "image", min_visibility=0.2)).any()


def test_csv_and_json_exports(data_dir):
    f = frame(standing(data_dir), 40.0)
    frames = [f, PoseFrame.empty((1280, 720), 80.0), f.replace(track_id=[4], timestamp_ms=120.0)]
    stream = io.StringIO()
    assert write_angles_csv(stream, frames, source="clip.mp4") == 5
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [(r["frame_index"], r["space"], r["track_id"]) for r in rows] == [
        ("0", "image", ""), ("0", "world", ""), ("1", "", ""), ("2", "image", "4"), ("2", "world", "4")
    ]  # fmt: skip
    assert float(rows[0]["trunk"]) == pytest.approx(
        frame_angles(f, "image")[0, angle_index("trunk")], abs=0.01
    )
    assert rows[2]["left_knee"] == ""
    vis = f.visibility.copy()
    vis[0, I["right_wrist"]] = 0.1
    document = add_angles_to_document(frame_to_dict(f.replace(visibility=vis)), f.replace(visibility=vis))
    person = json.loads(json.dumps(document))["people"][0]
    assert set(person["angles"]) == {"image", "world"}
    assert person["angles"]["world"]["right_elbow"] is None
    assert person["angles"]["image"]["left_knee"] == pytest.approx(
        frame_angles(f, "image")[0, angle_index("left_knee")], abs=0.01
    )


def test_real_photo_warrior_two(model, pose_jpg):
    """pose.jpg: warrior II. His right knee is bent about a right angle over a vertical shank
    (image left), the left leg and both arms are straight, the arms horizontal, trunk upright."""
    with PoseEstimator(model=model) as estimator:
        result = estimator.estimate(pose_jpg)
    image = dict(zip(ANGLE_NAMES, frame_angles(result, "image")[0], strict=True))
    world = dict(zip(ANGLE_NAMES, frame_angles(result, "world")[0], strict=True))
    for angles in (image, world):
        assert 65 <= angles["right_knee"] <= 100
        assert angles["left_knee"] <= 25
        assert 75 <= angles["left_shoulder"] <= 105 and 75 <= angles["right_shoulder"] <= 105
        assert angles["left_elbow"] <= 35 and angles["right_elbow"] <= 35
    assert abs(image["trunk"] - 90) <= 10
    assert abs(image["right_shank"] + 90) <= 15  # vertical, pointing down
    assert abs(image["left_arm"]) <= 15  # pointing right on screen
    assert abs(image["right_arm"]) >= 165  # pointing left on screen
    assert abs(world["right_thigh"]) <= 20  # front thigh near horizontal
