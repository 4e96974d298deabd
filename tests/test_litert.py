"""The LiteRT runtime against MediaPipe Tasks, on the same networks and real images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from localpose.engine import EngineSettings, MediaPipeEngine, create_engine, resolve_runtime
from localpose.engine.litert import (
    LiteRTEngine,
    _bundle_networks,
    _Network,
    _output_roles,
    ssd_anchors,
    without_outputs,
)
from localpose.images import load_image
from localpose.models import ModelBundle
from localpose.video import read_frames


@pytest.fixture(scope="module")
def golden_rgb(pose_jpg: Path) -> np.ndarray:
    return load_image(pose_jpg)


def test_anchors_match_the_detector_outputs(model: ModelBundle) -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6, the detector's box rows
    assert anchors[0] == pytest.approx([0.5 / 28, 0.5 / 28])
    assert anchors[-1] == pytest.approx([6.5 / 7, 6.5 / 7])
    detector, _ = _bundle_networks(model.data)
    shapes = _Network(detector).output_shapes
    assert sorted(shapes.values()) == [(1, 2254, 1), (1, 2254, 12)]
    assert set(_output_roles(shapes, 224)) == {"boxes", "scores"}


def test_pruned_landmark_network_gives_identical_outputs(model: ModelBundle, golden_rgb: np.ndarray) -> None:
    """Dropping the segmentation head changes nothing else, bit for bit."""
    _, landmarks = _bundle_networks(model.data)
    full = _Network(landmarks)
    roles = _output_roles(full.output_shapes, 256)
    pruned = without_outputs(landmarks, {roles["mask"]})
    kept = tuple(roles[r] for r in ("landmarks", "presence", "heatmap", "world"))
    assert set(_Network(pruned).output_shapes) == set(kept)
    engine = LiteRTEngine(model.data, EngineSettings())
    roi = engine.detect(golden_rgb)[0][1]
    crop = cv2.warpAffine(golden_rgb, roi.crop_matrix(256), (256, 256)).astype(np.float32)[None] / 255
    full_out = full.run(crop, kept)
    pruned_out = _Network(pruned).run(crop, kept)
    for a, b in zip(full_out, pruned_out, strict=True):
        np.testing.assert_array_equal(a, b)


def test_litert_agrees_with_mediapipe_tasks_on_the_golden_image(
    model: ModelBundle, golden_rgb: np.ndarray
) -> None:
    """Measured: largest landmark difference 1.8 px (mean 0.2 px) on the 1000x667 photo,
    world 0.011 m, visibility 0.003, segmentation masks IoU 0.998."""
    settings = EngineSettings(segmentation=True)
    with MediaPipeEngine(model.data, settings) as tasks, LiteRTEngine(model.data, settings) as litert:
        a, b = tasks.process(golden_rgb), litert.process(golden_rgb)
    assert len(a) == len(b) == 1
    assert np.abs(a.xy - b.xy).max() < 3.0
    assert np.abs(a.world - b.world).max() < 0.03
    assert np.abs(a.visibility - b.visibility).max() < 0.02
    ma, mb = a.masks[0] >= 0.5, b.masks[0] >= 0.5
    assert (ma & mb).sum() / (ma | mb).sum() > 0.99


def test_video_mode_never_tracks_one_person_twice(model: ModelBundle, data_dir: Path) -> None:
    """Asked for two people on a one-person clip, the engine returns one person per frame
    (two ROIs that converge on one person are merged, as MediaPipe Tasks does not)."""
    engine = create_engine(model.data, EngineSettings(num_poses=2), "video", "litert")
    counts = [
        len(engine.process(rgb, int(t))) for rgb, t in read_frames(data_dir / "mediapipe/pose_squats.mp4")
    ]
    assert len(counts) == 65 and set(counts) == {1}


def test_runtime_choice() -> None:
    assert resolve_runtime("auto") == "litert"  # ai-edge-litert is a dependency
    assert resolve_runtime("mediapipe") == "mediapipe"
