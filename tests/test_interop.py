"""Our files read by the consumers' own readers: pycocotools (COCO results), Pose2Sim's folder rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from localpose.cli import main
from localpose.export import coco_image_ids, coco_results
from localpose.result import PoseFrame


def test_coco_image_ids_are_integers_and_keep_coco_numbers():
    assert coco_image_ids(["000000000785", "pose", "12", "12", "a"]) == [785, 786, 12, 787, 788]
    frame = PoseFrame.empty((10, 10))
    with pytest.raises(TypeError, match="integers"):
        coco_results([("pose", frame)])


def test_folder_wide_coco_file_loads_and_evaluates_in_pycocotools(data_dir, model_cache, tmp_path, capsys):
    pytest.importorskip("pycocotools", reason="a test extra: pip install pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out = tmp_path / "out"
    folder = data_dir / "images" / "coco"
    argv = ["image", str(folder), "-o", str(out), "-f", "coco,openpose", "-n", "10", "-q"]
    assert main([*argv, "--model-cache", str(model_cache)]) == 0
    truth = COCO(str(folder / "coco_person_keypoints.json"))
    results = truth.loadRes(str(out / "coco_results.json"))  # rejects mixed or unknown image ids
    images = json.loads((out / "coco_images.json").read_text())["images"]
    assert sorted(i["id"] for i in images) == sorted(truth.getImgIds())
    for image in images:
        assert truth.imgs[image["id"]]["file_name"] in image["file_name"]
    evaluation = COCOeval(truth, results, "keypoints")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    ap, ap50 = evaluation.stats[:2]
    # Measured 0.518 / 0.752 with the multi-person search (9 of 12 people found).
    assert ap > 0.42 and ap50 > 0.65, (ap, ap50)
    # OpenPose files land in a folder whose name contains "json", which Pose2Sim scans.
    files = sorted((out / "openpose_json").glob("*_keypoints.json"))
    assert [f.name for f in files] == [f"{i['file_name'].split('/')[-1][:-4]}_keypoints.json" for i in images]
    people = json.loads(files[0].read_text())["people"]
    assert len(people) >= 1 and len(people[0]["pose_keypoints_2d"]) == 25 * 3
    assert np.ptp(np.asarray(people[0]["pose_keypoints_2d"]).reshape(25, 3)[:, 0]) > 20
    capsys.readouterr()
