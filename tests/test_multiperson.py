"""Multi-person search on real photos with COCO ground truth, and its de-duplication rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from localpose.bench.images import score_people
from localpose.estimate import PoseEstimator
from localpose.models import ModelBundle
from localpose.multiperson import drop_duplicate_people
from localpose.options import EstimatorOptions
from localpose.result import PoseFrame


@pytest.fixture(scope="module")
def coco_frames(model: ModelBundle, data_dir: Path, coco_truth: dict) -> dict[str, dict[int, PoseFrame]]:
    out = {}
    for mode in ("single-pass", "search"):
        with PoseEstimator(EstimatorOptions(num_poses=10, multi_person=mode), model) as estimator:
            out[mode] = {
                image["id"]: estimator.estimate(data_dir / "images/coco" / image["file_name"])
                for image in coco_truth["images"]
            }
    return out


def test_search_finds_most_people_without_duplicates(coco_frames, coco_truth: dict) -> None:
    """12 annotated people (>= 5 keypoints) in 4 COCO photos.

    Measured: one plain pass finds 4 (recall 0.33, mean OKS 0.73); the search finds 9
    (recall 0.75, no duplicates, mean OKS 0.76).
    """
    plain = score_people(coco_frames["single-pass"], coco_truth)
    search = score_people(coco_frames["search"], coco_truth)
    assert (plain.annotated, plain.found) == (12, 4)
    assert search.recall >= 0.75
    assert search.duplicates == 0
    assert search.mean_oks >= 0.72  # no worse than the plain pass's own people (0.73)


def test_search_people_lie_inside_the_image(coco_frames) -> None:
    for frame in coco_frames["search"].values():
        boxes = frame.boxes
        width, height = frame.image_size
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        assert ((centres >= 0) & (centres <= [width, height])).all()
        assert frame.masks is None  # not asked for


def test_single_person_photo_is_unchanged(model: ModelBundle, pose_jpg: Path) -> None:
    with PoseEstimator(EstimatorOptions(num_poses=5), model) as search:
        found = search.estimate(pose_jpg)
    with PoseEstimator(EstimatorOptions(num_poses=1), model) as plain:
        one = plain.estimate(pose_jpg)
    assert len(found) == 1
    np.testing.assert_allclose(found.xy, one.xy, atol=1.0)


def test_no_people_gives_an_empty_frame(model: ModelBundle) -> None:
    with PoseEstimator(EstimatorOptions(num_poses=5), model) as search:
        assert len(search.estimate(np.full((300, 400, 3), 90, dtype=np.uint8))) == 0


def test_masks_on_request_follow_the_people(model: ModelBundle, data_dir: Path) -> None:
    options = EstimatorOptions(num_poses=5, segmentation=True)
    with PoseEstimator(options, model) as estimator:
        frame = estimator.estimate(data_dir / "images/coco/000000196141.jpg")
    assert frame.masks is not None and frame.masks.shape == (len(frame), 429, 640)
    for i in range(len(frame)):
        x, y = np.round(frame.xy[i, 0]).astype(int)  # the nose is on the person
        assert frame.masks[i, max(0, y - 3) : y + 4, max(0, x - 3) : x + 4].max() >= 0.5


def test_duplicates_are_dropped_by_oks() -> None:
    base = np.stack([np.linspace(100, 300, 33), np.linspace(50, 400, 33)], axis=1)
    people = np.stack([base, base + 2.0, base + 250.0])
    frame = PoseFrame(
        image_size=(800, 800),
        xy=people,
        z=np.zeros((3, 33)),
        visibility=np.ones((3, 33)),
        presence=np.ones((3, 33)),
        world=np.zeros((3, 33, 3)),
        score=[0.8, 0.9, 0.7],
    )
    kept = drop_duplicate_people(frame)
    assert len(kept) == 2
    assert sorted(kept.score.tolist()) == pytest.approx([0.7, 0.9])  # the better twin stays
