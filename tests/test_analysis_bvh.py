"""BVH export: read the file back, run forward kinematics and compare with the landmarks."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import numpy as np
import pytest

from analysis_support import golden_squats
from localpose.analysis.bvh import BVH_SKELETON, landmark_positions, read_bvh, write_bvh
from localpose.errors import InvalidInputError
from localpose.result import PoseFrame
from localpose.schema import LANDMARK_INDEX as I


def _round_trip(frames) -> tuple[object, np.ndarray, dict[str, np.ndarray], str]:
    stream = io.StringIO()
    result = write_bvh(stream, frames)
    motion = read_bvh(io.StringIO(stream.getvalue()))
    return result, motion.positions(), landmark_positions(frames, motion), stream.getvalue()


def _errors_cm(motion_names, positions, wanted) -> np.ndarray:
    return np.stack(
        [np.linalg.norm(positions[:, motion_names.index(n)] - v, axis=1) for n, v in wanted.items()]
    )


def test_real_squats_round_trip_within_the_bone_length_jitter(data_dir):
    """MediaPipe's world landmarks for the 65 frames of pose_squats.mp4 (5 fps).

    A BVH skeleton has one length per bone while MediaPipe's bones stretch from frame to frame
    (the left thigh by 15 mm standard deviation here), so positions cannot match exactly. What must
    hold exactly is that every bone points where the landmarks point, and that each joint's
    error is no more than the summed length differences of the bones above it.
    """
    frames = golden_squats(data_dir)
    result, positions, wanted, text = _round_trip(frames)
    motion = read_bvh(io.StringIO(text))
    assert result.frames == motion.frames == 65
    assert motion.frame_time_s == pytest.approx(0.2)  # 5 fps, from the timestamps
    names = list(motion.names)
    # 1. bone directions: exact
    worst_degrees = 0.0
    for j, parent in enumerate(motion.parents):
        if parent < 0:
            continue
        got = positions[:, j] - positions[:, parent]
        want = wanted[names[j]] - wanted[names[parent]]
        lengths = np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
        if np.all(lengths < 1e-9):  # zero-length bones (Spine, Neck start where their parents do)
            continue
        cos = np.einsum("fd,fd->f", got, want) / lengths
        worst_degrees = max(worst_degrees, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    assert worst_degrees < 1e-3
    # 2. positions: each joint within the summed bone-length differences along its chain
    for j, name in enumerate(names):
        bound = np.zeros(motion.frames)
        k = j
        while motion.parents[k] >= 0:
            parent = motion.parents[k]
            rest = np.linalg.norm(positions[:, k] - positions[:, parent], axis=1)
            actual = np.linalg.norm(wanted[names[k]] - wanted[names[parent]], axis=1)
            bound += np.abs(rest - actual)
            k = parent
        error = np.linalg.norm(positions[:, j] - wanted[name], axis=1)
        assert np.all(error <= bound + 1e-4), name  # 1 micrometre of text rounding
    # 3. the figures (centimetres in the file): measured mean 17.5 mm, 95th percentile 50.0 mm,
    # max 111.1 mm (a wrist: the error grows down the arm's chain)
    errors_mm = 10 * _errors_cm(names, positions, wanted)
    assert errors_mm.mean() < 25
    assert errors_mm.max() < 150


def test_a_rigid_skeleton_round_trips_exactly(data_dir):
    """Landmarks that do keep their bone lengths (the first file's own joints) come back to 0.01 mm."""
    frames = golden_squats(data_dir)
    _, positions, _, text = _round_trip(frames)
    motion = read_bvh(io.StringIO(text))
    names = list(motion.names)
    rigid = []
    for k, f in enumerate(frames):
        world = np.array(f.world[0], dtype=np.float64)

        def put(landmarks: tuple[str, ...], joint: str, world=world, k=k) -> None:
            point = positions[k, names.index(joint)] / np.array([100.0, -100.0, -100.0])
            for landmark in landmarks:
                world[I[landmark]] = point

        for side, prefix in (("left", "Left"), ("right", "Right")):
            put((f"{side}_hip",), f"{prefix}UpLeg")
            put((f"{side}_knee",), f"{prefix}Leg")
            put((f"{side}_ankle",), f"{prefix}Foot")
            put((f"{side}_foot_index",), f"{prefix}Foot_end")
            put((f"{side}_shoulder",), f"{prefix}Arm")
            put((f"{side}_elbow",), f"{prefix}ForeArm")
            put((f"{side}_wrist",), f"{prefix}Hand")
            put((f"{side}_index",), f"{prefix}Hand_end")
        put(("left_ear", "right_ear"), "Head")
        put(("nose",), "Head_end")
        rigid.append(f.replace(world=world[None]))
    _, again, wanted, _ = _round_trip(rigid)
    errors_mm = 10 * _errors_cm(names, again, wanted)
    assert errors_mm.max() < 0.01


def test_missing_frames_are_filled_and_the_header_is_what_blender_reads(data_dir):
    frames = golden_squats(data_dir)[:12]
    frames[4] = PoseFrame.empty(frames[4].image_size, frames[4].timestamp_ms)
    frames[5] = PoseFrame.empty(frames[5].image_size, frames[5].timestamp_ms)
    stream = io.StringIO()
    result = write_bvh(stream, frames)
    assert (result.frames, result.filled_frames) == (12, 2)
    text = stream.getvalue()
    assert text.startswith("HIERARCHY\nROOT Hips\n")
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    assert "Frames: 12\nFrame Time: 0.200000\n" in text
    motion = read_bvh(io.StringIO(text))
    assert {j.name for j in BVH_SKELETON} <= set(motion.names)
    assert np.allclose(motion.motion[4], motion.motion[3]) or np.allclose(motion.motion[4], motion.motion[6])
    # legs hang down (-Y) and arms reach out (+-X) in the rest pose, in centimetres
    offsets = dict(zip(motion.names, motion.offsets, strict=True))
    assert offsets["LeftLeg"][1] < -30 and offsets["LeftForeArm"][0] > 15 and offsets["RightForeArm"][0] < -15


def test_reader_rejects_broken_files(tmp_path):
    with pytest.raises(InvalidInputError, match="HIERARCHY"):
        read_bvh(io.StringIO("MOTION\nFrames: 0\n"))
    with pytest.raises(InvalidInputError, match="expected 2 frames"):
        read_bvh(
            io.StringIO(
                "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\n"
                "MOTION\nFrames: 2\nFrame Time: 0.1\n1 2 3\n"
            )
        )
    with pytest.raises(InvalidInputError, match="never appears"):
        write_bvh(tmp_path / "x.bvh", [PoseFrame.empty((10, 10))])


BLENDER_SCRIPT = r"""
import builtins, json, sys
import bpy
_open = builtins.open
# Debian's Blender 3.4 importer opens files with mode "rU", which its Python 3.11 no longer accepts.
builtins.open = lambda f, mode="r", *a, **k: _open(f, mode.replace("U", ""), *a, **k)
path, out, count = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=path, axis_forward="-Z", axis_up="Y", global_scale=1.0, frame_start=1,
                        update_scene_fps=True, rotate_mode="NATIVE")
arm = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"][0]
scene = bpy.context.scene
heads = []
for f in range(1, int(sys.argv[-1]) + 1):
    scene.frame_set(f)
    heads.append({b.name: list(arm.matrix_world @ b.head) for b in arm.pose.bones})
json.dump({"fps": scene.render.fps / scene.render.fps_base, "heads": heads}, _open(out, "w"))
"""


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("blender") is None, reason="Blender is not installed (apt-get install blender)"
)
def test_blender_imports_the_file_and_poses_the_same_joints(data_dir, tmp_path):
    """Blender's own BVH importer (default axes: -Z forward, Y up) puts every bone head, in every
    frame, where our forward kinematics does (measured: within 0.0003 mm)."""
    frames = golden_squats(data_dir)
    path = tmp_path / "squats.bvh"
    write_bvh(path, frames)
    script = tmp_path / "check.py"
    script.write_text(BLENDER_SCRIPT)
    out = tmp_path / "blender.json"
    subprocess.run(
        ["blender", "-b", "--factory-startup", "-P", str(script), "--", str(path), str(out), "65"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    result = json.loads(out.read_text())
    assert result["fps"] == pytest.approx(5.0)
    motion = read_bvh(path)
    positions = motion.positions()
    worst = 0.0
    for f, heads in enumerate(result["heads"]):
        assert set(heads) == {j.name for j in BVH_SKELETON}
        for name, head in heads.items():
            x, y, z = positions[f, motion.names.index(name)]
            worst = max(worst, float(np.linalg.norm(np.array(head) - [x, -z, y])))  # Y up -> Blender Z up
    assert worst < 0.001  # centimetres


def test_degenerate_poses_give_finite_rotations(data_dir):
    frames = golden_squats(data_dir)[:3]
    world = np.array(frames[1].world)
    world[0, I["left_elbow"]] = world[0, I["left_shoulder"]]  # a zero-length upper arm
    world[0, I["right_hip"]] = world[0, I["left_hip"]]  # no hip line
    frames[1] = frames[1].replace(world=world)
    stream = io.StringIO()
    write_bvh(stream, frames)
    motion = read_bvh(io.StringIO(stream.getvalue()))
    assert np.isfinite(motion.motion).all() and np.isfinite(motion.positions()).all()
