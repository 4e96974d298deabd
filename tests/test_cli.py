"""The CLI in-process: outputs written, exit codes, one line per bad input."""

import csv
import io
import json
import re
import shutil
import subprocess
import sys

import pytest

from localpose.cli import EXIT_FAILED_INPUTS, EXIT_OK, EXIT_USAGE, main
from localpose.cli.nativelog import _ROUTINE


@pytest.fixture
def photos(tmp_path, data_dir):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(data_dir / "mediapipe" / "pose.jpg", folder / "pose.jpg")
    shutil.copy(data_dir / "images" / "coco" / "000000000785.jpg", folder / "sub" / "000000000785.jpg")
    (folder / "broken.jpg").write_bytes((data_dir / "mediapipe" / "pose.jpg").read_bytes()[:5000])
    return folder


def test_image_folder_with_all_formats(photos, tmp_path, model_cache, capsys):
    out = tmp_path / "out"
    argv = [
        "image",
        str(photos),
        "-o",
        str(out),
        "-f",
        "json,csv,coco",
        "--draw",
        "--model-cache",
        str(model_cache),
    ]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == EXIT_FAILED_INPUTS, "one input is broken"
    errors = [line for line in captured.err.splitlines() if "broken.jpg" in line]
    assert len(errors) == 1 and "truncated or corrupt" in errors[0]
    assert "2 image(s) processed, 1 failed, 2 people found" in captured.err
    # the good inputs were still written
    document = json.loads((out / "pose.json").read_text())
    assert len(document["people"]) == 1 and document["image"] == {"width": 1000, "height": 667}
    assert (out / "sub" / "000000000785.json").is_file()
    assert (out / "pose.overlay.jpg").stat().st_size > 10_000
    rows = list(csv.DictReader(io.StringIO((out / "keypoints.csv").read_text())))
    assert len(rows) == 2 * 33 and {r["source"] for r in rows} == {
        str(photos / "pose.jpg"),
        str(photos / "sub" / "000000000785.jpg"),
    }
    coco = json.loads((out / "coco_results.json").read_text())
    assert sorted(e["image_id"] for e in coco) == [785, 786]  # integers: a COCO number kept, the next free
    images = json.loads((out / "coco_images.json").read_text())["images"]
    assert {i["id"]: i["file_name"] for i in images} == {
        785: str(photos / "sub" / "000000000785.jpg"),
        786: str(photos / "pose.jpg"),
    }


def test_image_to_stdout_is_json_lines(data_dir, model_cache, capsys):
    code = main(["image", str(data_dir / "mediapipe" / "pose.jpg"), "-q", "--model-cache", str(model_cache)])
    lines = capsys.readouterr().out.splitlines()
    assert code == EXIT_OK and len(lines) == 1
    assert json.loads(lines[0])["people"][0]["landmarks"][0]["name"] == "nose"


def test_summary_says_when_more_people_were_seen(data_dir, model_cache, capsys):
    """Asked for 2 people on a photo of 5, the summary line points at -n."""
    photo = data_dir / "images" / "coco" / "000000197388.jpg"
    code = main(["image", str(photo), "-n", "2", "--model-cache", str(model_cache)])
    err = capsys.readouterr().err
    assert code == EXIT_OK
    assert re.search(r"2 people found, [2-9] more seen: use -n", err), err


def test_missing_input_and_bad_options(tmp_path, model_cache, capsys):
    assert (
        main(["image", str(tmp_path / "nope.jpg"), "--model-cache", str(model_cache)]) == EXIT_FAILED_INPUTS
    )
    assert "nope.jpg: no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["image", "x.jpg", "--num-poses", "11"])
    assert exit_info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exit_info:
        main(["image", "x.jpg", "-f", "json,xml"])
    assert exit_info.value.code == EXIT_USAGE
    assert "unknown format xml; choose from json,csv,coco" in capsys.readouterr().err


def test_bad_model_file_is_one_clear_line(tmp_path, data_dir, capsys):
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"nope")
    assert main(["image", str(data_dir / "mediapipe" / "pose.jpg"), "--model", str(bad)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"localpose: error: {bad} is neither a PoseLandmarker .task bundle nor a .tflite network "
        "(or it is truncated)"
    ]


@pytest.mark.slow
def test_doctor(model_cache):
    """In a child process: doctor blocks networking for the rest of its process's life."""
    command = [
        sys.executable,
        "-c",
        "import sys; from localpose.cli import main; sys.exit(main(sys.argv[1:]))",
        "doctor",
        "--model-cache",
        str(model_cache),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == EXIT_OK, result.stderr
    out = result.stdout
    assert "ai-edge-litert " in out and "model          full (blazepose, blazepose33): shipped" in out
    assert "landmarks    sha256 e9a5c5cb17f7" in out  # the shipped full network's card
    assert "network        blocked" in out and "doctor: all good" in out
    assert "1 person(s)" in out


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        (b"W0000 00:00:1795491768.939032    2831 inference_feedback_manager.cc:114] Feedback\n", True),
        (b"I0000 00:00:1795491768.707257    2813 task_runner.cc:85] GPU suport\n", True),
        (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n", True),
        (b"E0000 00:00:1795491768.939032    2831 calculator_graph.cc:887] failed\n", False),
        (b"localpose: error: something\n", False),
    ],
)
def test_native_log_filter_hides_only_routine_lines(line, hidden):
    assert bool(_ROUTINE.match(line)) is hidden


def test_panorama_too_wide_is_one_line_and_the_rest_is_written(tmp_path, data_dir, model_cache, capsys):
    """A 36000x4 PNG (inside the pixel limit, too wide for the pipeline) fails alone."""
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(data_dir / "mediapipe" / "pose.jpg", folder / "pose.jpg")
    Image.new("RGB", (36_000, 4), (90, 90, 90)).save(folder / "panorama.png")
    out = tmp_path / "out"
    code = main(["image", str(folder), "-o", str(out), "-f", "json,csv", "--model-cache", str(model_cache)])
    captured = capsys.readouterr()
    assert code == EXIT_FAILED_INPUTS
    errors = [line for line in captured.err.splitlines() if "panorama.png" in line]
    assert len(errors) == 1 and "sides longer than 32766" in errors[0] and "OpenCV" not in captured.err
    assert len(json.loads((out / "pose.json").read_text())["people"]) == 1
    assert len(list(csv.DictReader(io.StringIO((out / "keypoints.csv").read_text())))) == 33
