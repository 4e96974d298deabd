"""BlazePose on LiteRT (runtime layer + pipeline), and against MediaPipe Tasks on the same networks."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from localpose.blazepose.detector import PoseDetector, detector_roles, ssd_anchors
from localpose.blazepose.landmarks import landmark_roles
from localpose.blazepose.pipeline import BlazePoseEngine, search_input_shape
from localpose.engine import create_engine, resolve_runtime
from localpose.images import load_image
from localpose.models import ModelBundle
from localpose.options import EstimatorOptions
from localpose.runtime import litert
from localpose.runtime.litert import TFLiteNetwork, at_input_size, without_outputs
from localpose.video import read_frames


@pytest.fixture(scope="module")
def golden_rgb(pose_jpg: Path) -> np.ndarray:
    return load_image(pose_jpg)


def test_anchors_match_the_detector_outputs(model: ModelBundle) -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6, the detector's box rows
    assert anchors[0] == pytest.approx([0.5 / 28, 0.5 / 28])
    assert anchors[-1] == pytest.approx([6.5 / 7, 6.5 / 7])
    shapes = TFLiteNetwork(model.networks["detector"]).output_shapes
    assert sorted(shapes.values()) == [(1, 2254, 1), (1, 2254, 12)]
    assert set(detector_roles(shapes)) == {"boxes", "scores"}


def test_detector_rebuilt_for_a_larger_input_sees_the_same_person(
    model: ModelBundle, golden_rgb: np.ndarray
) -> None:
    """The multi-person search runs the detector at 448x288 on a 3:2 photo: one box row per
    anchor of that grid, and the man found where the usual 224x224 view finds him."""
    assert search_input_shape(1000, 667) == (448, 288)
    assert search_input_shape(1088, 1920) == (256, 448)
    model_bytes = model.networks["detector"]
    shapes = TFLiteNetwork(at_input_size(model_bytes, 448, 288)).output_shapes
    rows = len(ssd_anchors((448, 288)))
    assert rows == 56 * 36 * 2 + 28 * 18 * 2 + 14 * 9 * 6
    assert sorted(shapes.values()) == [(1, rows, 1), (1, rows, 12)]
    with pytest.raises(ValueError, match="multiples of 32"):
        at_input_size(model_bytes, 440, 288)
    detector = PoseDetector(model_bytes)
    ((_, usual),) = detector.detect(golden_rgb, 0.5)
    ((_, close),) = detector.detect(golden_rgb, 0.5, (448, 288))
    assert math.hypot(close.cx - usual.cx, close.cy - usual.cy) < 0.05 * usual.side
    assert close.side == pytest.approx(usual.side, rel=0.1)


def test_detector_keeps_a_few_input_shapes(model: ModelBundle) -> None:
    """Each new image aspect builds a detector (~0.1 s, ~30 MB); the four most recent stay."""
    detector = PoseDetector(model.networks["detector"])
    shapes = [(448, 32 * k) for k in (6, 7, 8, 9, 10)]
    for shape in shapes:
        detector.detect(np.zeros((100, 100, 3), np.uint8), 0.5, shape)
    kept = detector.input_shapes
    assert kept[0] == (224, 224) and kept[1:] == shapes[1:]


def test_without_model_surgery_the_engine_says_so_once_and_still_works(
    model: ModelBundle,
    golden_rgb: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A LiteRT without its flatbuffer schema module cannot prune or reshape networks: the
    engine runs the networks as they are (the search on the detector's own 224x224 view),
    finds the same person, and one warning says what that costs."""
    with BlazePoseEngine(
        *model.networks.values(), EstimatorOptions(num_poses=5, multi_person="search")
    ) as engine:
        usual = engine.process(golden_rgb)
    litert._schema.cache_clear()
    monkeypatch.delattr("ai_edge_litert.schema_py_generated.ModelT")
    try:
        with caplog.at_level("WARNING", logger="localpose.runtime.litert"):
            assert not litert.surgery_available()
            for _ in range(2):
                with BlazePoseEngine(
                    *model.networks.values(), EstimatorOptions(num_poses=5, multi_person="search")
                ) as engine:
                    frame = engine.process(golden_rgb)
    finally:
        litert._schema.cache_clear()
    warnings = [r for r in caplog.records if "cannot rewrite networks" in r.getMessage()]
    assert len(warnings) == 1 and "slower" in warnings[0].getMessage()
    assert len(frame) == len(usual) == 1
    # another detector view gives another region: measured 5.2 px apart; MediaPipe's golden bound
    assert np.abs(frame.xy - usual.xy).max() < 15.0


def test_second_chance_detections_leave_confident_ones_unchanged(model: ModelBundle, data_dir: Path) -> None:
    """Weaker detections let in for the search come after MediaPipe's own ones, which stay as
    MediaPipe's weighted suppression makes them (the weaker boxes join no confident cluster)."""
    detector = PoseDetector(model.networks["detector"])
    rgb = load_image(data_dir / "images/coco/000000197388.jpg")
    confident = detector.detect(rgb, 0.5, (448, 288))
    both = detector.detect(rgb, 0.5, (448, 288), second_chance=0.15)
    assert len(both) > len(confident) >= 1
    assert both[: len(confident)] == confident
    assert all(score < 0.5 for score, _ in both[len(confident) :])


def test_weak_candidates_are_looked_at_again_only_when_their_region_moves(
    model: ModelBundle, data_dir: Path
) -> None:
    """A second landmark run on the region the first run's landmarks give, unless that region
    is nearly the one used (IoU >= 0.9). Both cases occur among the COCO photos' candidates."""
    engine = BlazePoseEngine(*model.networks.values(), EstimatorOptions(num_poses=10, multi_person="search"))
    first_runs = engine.landmarks
    runs: list[float] = []

    def counted(rgb, roi):
        runs.append(roi.side)
        return first_runs(rgb, roi)

    engine.landmarks = counted
    seen = {"again": 0, "once": 0}
    for photo in sorted((data_dir / "images/coco").glob("*.jpg")):
        rgb = load_image(photo)
        shape = search_input_shape(rgb.shape[1], rgb.shape[0])
        for score, roi in engine.detector.detect(rgb, 0.5, shape, second_chance=0.15):
            if score >= 0.5:
                continue
            first = first_runs(rgb, roi)
            runs.clear()
            person = engine.person_in(rgb, roi, look_again=True)
            if first is None:
                assert person is None and len(runs) == 1
                continue
            expected = 1 if first.framing >= 0.9 else 2
            assert len(runs) == expected
            seen["once" if expected == 1 else "again"] += 1
    assert seen["once"] >= 1 and seen["again"] >= 1, seen


def test_pruned_landmark_network_gives_identical_outputs(model: ModelBundle, golden_rgb: np.ndarray) -> None:
    """Dropping the segmentation head changes nothing else, bit for bit."""
    landmarks = model.networks["landmarks"]
    full = TFLiteNetwork(landmarks)
    roles = landmark_roles(full.output_shapes, 256)
    pruned = without_outputs(landmarks, {roles["mask"]})
    kept = tuple(roles[r] for r in ("landmarks", "presence", "heatmap", "world"))
    assert set(TFLiteNetwork(pruned).output_shapes) == set(kept)
    engine = BlazePoseEngine(*model.networks.values(), EstimatorOptions())
    roi = engine.detect(golden_rgb)[0][1]
    crop = cv2.warpAffine(golden_rgb, roi.crop_matrix(256), (256, 256)).astype(np.float32)[None] / 255
    full_out = full.run(crop, kept)
    pruned_out = TFLiteNetwork(pruned).run(crop, kept)
    for a, b in zip(full_out, pruned_out, strict=True):
        np.testing.assert_array_equal(a, b)


def test_two_threads_give_bit_identical_results(model: ModelBundle, golden_rgb: np.ndarray) -> None:
    """Idle cores are used for lone requests: the networks on 2 threads give the same bits."""
    with BlazePoseEngine(*model.networks.values(), EstimatorOptions(num_poses=3), threads=1) as engine:
        one = engine.process(golden_rgb)
        engine.threads = 2
        assert engine.threads == 2
        two = engine.process(golden_rgb)
    assert len(one) == len(two) == 1
    np.testing.assert_array_equal(one.xy, two.xy)
    np.testing.assert_array_equal(one.world, two.world)


@pytest.mark.mediapipe
def test_litert_agrees_with_mediapipe_tasks_on_the_golden_image(
    model: ModelBundle, golden_rgb: np.ndarray
) -> None:
    """Measured: largest landmark difference 1.8 px (mean 0.2 px) on the 1000x667 photo,
    world 0.011 m, visibility 0.003, segmentation masks IoU 0.998."""
    from localpose.engine.tasks import MediaPipeEngine

    options = EstimatorOptions(segmentation=True)
    with MediaPipeEngine(model, options) as tasks, BlazePoseEngine(*model.networks.values(), options) as lite:
        a, b = tasks.process(golden_rgb), lite.process(golden_rgb)
    assert len(a) == len(b) == 1
    assert np.abs(a.xy - b.xy).max() < 3.0
    assert np.abs(a.world - b.world).max() < 0.03
    assert np.abs(a.visibility - b.visibility).max() < 0.02
    ma, mb = a.masks[0] >= 0.5, b.masks[0] >= 0.5
    assert (ma & mb).sum() / (ma | mb).sum() > 0.99


@pytest.mark.slow
def test_video_mode_never_tracks_one_person_twice(model: ModelBundle, data_dir: Path) -> None:
    """Asked for two people on a one-person clip, the engine returns one person per frame
    (two ROIs that converge on one person are merged, as MediaPipe Tasks does not)."""
    engine = create_engine(model, EstimatorOptions(num_poses=2, runtime="litert"), "video")
    counts = [
        len(engine.process(rgb, int(t))) for rgb, t in read_frames(data_dir / "mediapipe/pose_squats.mp4")
    ]
    assert len(counts) == 65 and set(counts) == {1}


def test_runtime_choice() -> None:
    assert resolve_runtime("auto") == "litert"  # ai-edge-litert is a dependency; mediapipe an extra
    assert resolve_runtime("litert") == "litert"


def test_mediapipe_runtime_without_mediapipe_says_how_to_get_it(model: ModelBundle) -> None:
    from localpose.engine import mediapipe_version
    from localpose.errors import ModelUnavailableError

    if mediapipe_version() is not None:
        pytest.skip("mediapipe is installed here")
    with pytest.raises(ModelUnavailableError, match=r"pip install 'localpose\[mediapipe\]'"):
        create_engine(model, EstimatorOptions(runtime="mediapipe"))
