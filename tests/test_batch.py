"""Image files through worker processes: same results as in this process, in input order."""

import io
import json
import multiprocessing
import os
import shutil
import signal

import numpy as np
import pytest
from PIL import Image

from localpose import EstimatorOptions, InvalidOptionError, LocalposeError, PoseEstimator
from localpose.batch import IMAGES_PER_WORKER, BatchOptions, estimate_files
from localpose.cli import EXIT_FAILED_INPUTS, main

pytestmark = pytest.mark.slow  # worker pools over folders of photos


@pytest.fixture
def many_files(tmp_path, data_dir):
    """Two batches' worth of real photos (5 distinct ones repeated) and one truncated JPEG."""
    sources = [data_dir / "mediapipe" / "pose.jpg", *sorted((data_dir / "images" / "coco").glob("*.jpg"))]
    paths = []
    for k in range(2 * IMAGES_PER_WORKER):
        source = sources[k % len(sources)]
        paths.append(tmp_path / f"{k:02d}_{source.name}")
        shutil.copy(source, paths[-1])
    broken = tmp_path / "07_broken.jpg"
    broken.write_bytes(sources[0].read_bytes()[:5000])
    paths.insert(7, broken)
    return paths


def test_workers_for_a_batch():
    assert BatchOptions(workers=4).workers_for(IMAGES_PER_WORKER - 1) == 1
    assert BatchOptions(workers=4).workers_for(2 * IMAGES_PER_WORKER) == 2
    assert BatchOptions(workers=3).workers_for(1000) == 3
    assert BatchOptions(workers=1).workers_for(1000) == 1
    assert BatchOptions().workers_for(1000) >= 1  # all cores
    with pytest.raises(InvalidOptionError):
        BatchOptions(workers=-1)


def test_workers_give_the_same_results_in_input_order(many_files, model):
    with PoseEstimator(EstimatorOptions(num_poses=3), model) as estimator:
        here = list(estimate_files(many_files, estimator, BatchOptions(workers=1)))
        apart = list(estimate_files(many_files, estimator, BatchOptions(workers=2, overlay=True)))
    assert [o.path for o in apart] == many_files
    assert [o.ok for o in apart] == [o.ok for o in here] == [p.stem != "07_broken" for p in many_files]
    assert "truncated or corrupt" in apart[7].error
    for mine, theirs in zip(here, apart, strict=True):
        if mine.ok:  # LiteRT on one thread is deterministic: bit-identical across processes
            assert np.array_equal(mine.frame.xy, theirs.frame.xy)
            assert np.array_equal(mine.frame.world, theirs.frame.world)
            overlay = Image.open(io.BytesIO(theirs.overlay))
            assert overlay.format == "JPEG" and overlay.size == mine.frame.image_size
    assert [len(o.frame) for o in here[:3]] == [1, 1, 2]  # pose.jpg, 785 (a skier), 40083 (two men)


def test_cli_with_workers_writes_every_good_input(many_files, tmp_path, model_cache, capsys):
    out = tmp_path / "out"
    argv = [str(p) for p in many_files] + [
        "-o",
        str(out),
        "-w",
        "2",
        "--draw",
        "--model-cache",
        str(model_cache),
    ]
    assert main(["image", *argv]) == EXIT_FAILED_INPUTS
    err = capsys.readouterr().err
    assert sum("07_broken.jpg" in line for line in err.splitlines()) == 1
    assert f"{len(many_files) - 1} image(s) processed, 1 failed" in err
    good = [p for p in many_files if p.stem != "07_broken"]
    assert sorted(p.name for p in out.glob("*.json")) == sorted(p.stem + ".json" for p in good)
    assert len(list(out.glob("*.overlay.jpg"))) == len(good)


@pytest.mark.bench
def test_bench_folder_writes_json(tmp_path, data_dir, model_cache, monkeypatch, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(data_dir / "mediapipe" / "pose.jpg", folder)
    shutil.copy(data_dir / "images" / "coco" / "000000000785.jpg", folder)
    monkeypatch.setenv("LOCALPOSE_CACHE_DIR", str(model_cache))
    out = tmp_path / "bench.json"
    argv = ["bench", "folder", str(folder), "--images", "16", "-w", "2", "--repeat", "1", "-o", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 16 and report["distinct_images"] == 2 and report["model"]["name"] == "full"
    from localpose.engine import mediapipe_version

    baseline = ["mediapipe"] if mediapipe_version() else []
    assert list(report["runs"]) == [*baseline, "localpose_1_worker", "localpose_2_workers"]
    for run in report["runs"].values():
        assert run["people_found"] == 16 and run["images_per_s"] > 0  # one person in each photo
    if baseline:
        assert report["runs"]["mediapipe"]["speedup_vs_mediapipe"] == 1.0


def test_a_worker_killed_midway_is_one_clear_error(many_files, model):
    """What the kernel's out-of-memory killer does to a worker: the batch stops with a LocalposeError."""
    with PoseEstimator(EstimatorOptions(), model) as estimator:
        outcomes = estimate_files(many_files * 4, estimator, BatchOptions(workers=2))
        assert next(outcomes).ok
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(LocalposeError, match="worker process stopped unexpectedly"):
            list(outcomes)
