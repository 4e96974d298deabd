"""The analysis commands end to end: `localpose angles`, `reps`, `compare`, `bvh` on real inputs."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image, ImageOps

from analysis_support import golden_squats, video_poses
from localpose.analysis.bvh import read_bvh
from localpose.cli import main
from localpose.export import write_jsonl


@pytest.fixture(scope="module")
def squats_jsonl(data_dir, model, tmp_path_factory):
    """Our own inference on pose_squats.mp4, saved as a localpose JSON Lines export."""
    path = tmp_path_factory.mktemp("exports") / "squats.jsonl"
    with path.open("w") as stream:
        write_jsonl(stream, video_poses(data_dir / "mediapipe" / "pose_squats.mp4", model), source="squats")
    return path


@pytest.mark.slow
def test_angles_plot_and_csv(squats_jsonl, tmp_path, capsys):
    png, table = tmp_path / "angles.png", tmp_path / "angles.csv"
    assert main(["angles", str(squats_jsonl), "-o", str(png), "--csv", str(table), "--space", "world"]) == 0
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (1500, 1000)
        # a plot, not a blank canvas: many distinct colours
        assert len(image.convert("RGB").getcolors(1 << 20)) > 500
    with table.open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 65 * 2
    knees = [float(r["left_knee"]) for r in rows if r["space"] == "world"]
    assert max(knees) > 85 and min(knees) < 25  # squatting and standing
    assert "65/65 frames" in capsys.readouterr().err


def test_angles_of_an_image_as_json(pose_jpg, model_cache, capsys):
    assert main(["angles", str(pose_jpg), "--model-cache", str(model_cache)]) == 0
    document = json.loads(capsys.readouterr().out)
    person = document["people"][0]
    assert 65 <= person["image"]["right_knee"] <= 100 and person["world"]["left_knee"] <= 25


def test_reps_json_table_and_plot(squats_jsonl, tmp_path, capsys):
    plot = tmp_path / "reps.png"
    assert main(["reps", str(squats_jsonl), "--exercise", "squat", "--json", "--plot", str(plot)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["reps"], report["partial"]) == (2, 1)
    assert [item["reason"] for item in report["items"]] == ["full", "full", "unfinished"]
    assert plot.stat().st_size > 10_000
    assert main(["reps", str(squats_jsonl), "-e", "squat"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("squat: 2 reps, 1 partial") and "unfinished" in table


@pytest.mark.slow
def test_compare_images_and_motions(pose_jpg, model_cache, data_dir, tmp_path, capsys):
    flipped = tmp_path / "flipped.png"
    ImageOps.mirror(Image.open(pose_jpg).convert("RGB")).save(flipped)
    cache = ["--model-cache", str(model_cache)]
    assert main(["compare", str(pose_jpg), str(pose_jpg), "--json", *cache]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == pytest.approx(100.0, abs=1e-6)
    assert main(["compare", str(pose_jpg), str(flipped), "--json", *cache]) == 0
    assert json.loads(capsys.readouterr().out)["score"] <= 65
    assert main(["compare", str(pose_jpg), str(flipped), "--allow-mirror", *cache]) == 0
    assert "(mirror image)" in capsys.readouterr().out
    # motions: the reference squats against the same clip played at half speed
    frames = golden_squats(data_dir)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    with a.open("w") as stream:
        write_jsonl(stream, frames)
    with b.open("w") as stream:
        slow = [frames[k // 2].replace(timestamp_ms=100.0 * k) for k in range(2 * len(frames))]
        write_jsonl(stream, slow)
    assert main(["compare", str(a), str(b), "--json"]) == 0
    motion = json.loads(capsys.readouterr().out)
    assert motion["score"] >= 99.9 and motion["tempo_ratio"] == pytest.approx(2.0, abs=0.05)
    assert main(["compare", str(a), str(b)]) == 0
    assert "phase 4" in capsys.readouterr().out


def test_bvh_export(squats_jsonl, tmp_path, capsys):
    out = tmp_path / "squats.bvh"
    assert main(["bvh", str(squats_jsonl), "-o", str(out)]) == 0
    motion = read_bvh(out)
    assert motion.frames == 65 and motion.frame_time_s == pytest.approx(0.2)
    assert "65 frames at 200.0 ms" in capsys.readouterr().err


@pytest.mark.slow
def test_a_video_goes_through_the_video_pipeline(data_dir, model_cache, squats_jsonl, capsys):
    """`reps VIDEO` estimates with workers, tracking and smoothing: the same answer as on its poses."""
    clip, cache = str(data_dir / "mediapipe" / "pose_squats.mp4"), ["--model-cache", str(model_cache)]
    assert main(["reps", clip, "-e", "squat", "--json", "-w", "2", "--person", "0", *cache]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert (direct["reps"], direct["partial"]) == (2, 1)
    assert main(["compare", clip, str(squats_jsonl), "--json", "--person-a", "0", *cache]) == 0
    assert json.loads(capsys.readouterr().out)["score"] > 90  # smoothed against raw poses of the same clip
    assert main(["reps", str(squats_jsonl), "-e", "squat", "--person", "5"]) == 2
    assert "track 5 does not appear" in capsys.readouterr().err


def test_errors_are_reported_with_their_exit_code(tmp_path, capsys):
    """A missing input is a failed input (1), as for `localpose image missing.jpg`."""
    assert main(["reps", str(tmp_path / "missing.mp4"), "-e", "squat"]) == 1
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reps", str(tmp_path / "x.jsonl"), "-e", "burpee"])


def test_bench_analysis_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "analysis", "--frames", "20", "--repeat", "1", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["benchmark"] == "analysis" and report["frames"] == 20
    assert set(report["results"]) == {
        "angles_image_and_world_ms_per_frame",
        "rep_counter_update_ms_per_frame",
        "compare_poses_ms",
        "compare_motions_20x20_s",
        "write_bvh_20_frames_s",
    }
    assert all(value > 0 for value in report["results"].values())
    assert json.loads(capsys.readouterr().out) == report
