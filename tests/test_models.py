"""The model layer: shipped weights that match their cards, the registry, the cache, add and fetch."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from localpose.cli import EXIT_OK, EXIT_USAGE, main
from localpose.errors import InvalidOptionError, ModelUnavailableError
from localpose.estimate import PoseEstimator
from localpose.models import add_model, installed_models, load_model, registry
from localpose.models.fetch import fetch_model
from localpose.options import ModelOptions

WEIGHTS = resources.files("localpose") / "weights"


def _task_bundle(detector: bytes, landmarks: bytes) -> bytes:
    """A .task laid out as the official ones: the two networks, stored, in one zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr("pose_detector.tflite", detector)
        bundle.writestr("pose_landmarks_detector.tflite", landmarks)
    return out.getvalue()


def test_every_shipped_network_matches_its_model_card() -> None:
    reg = registry()
    shipped = [n for n in reg.networks.values() if n.shipped]
    assert {n.name for n in shipped} >= {"blazepose-detector", "blazepose-full", "blazepose-lite"}
    for card in shipped:
        data = (WEIGHTS / card.file).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (card.size, card.sha256), card.name
        assert card.licence and {"package", "version", "path", "client"} <= set(card.origin)
    roles = {
        ("blazepose", "blazepose33"): {"detector", "landmarks"},
        ("movenet", "coco17"): {"proposals", "keypoints"},
    }
    for model in reg.models.values():
        assert set(model.networks) == roles[model.family, model.skeleton]
        assert all(name in reg.networks for name in model.networks.values())
    assert {"movenet-thunder", "movenet-lightning"} <= set(reg.models)
    assert reg.default.name == "full"
    assert not reg.networks["blazepose-heavy"].shipped  # 28 MB: fetched or added on request


def test_default_model_is_the_shipped_full_pair(model) -> None:
    assert (model.name, model.family, model.skeleton, model.path) == (
        "full",
        "blazepose",
        "blazepose33",
        None,
    )
    assert "mediapipe 0.10.21" in model.source
    reg = registry()
    assert model.network_sha256 == {
        "detector": reg.networks["blazepose-detector"].sha256,
        "landmarks": reg.networks["blazepose-full"].sha256,
    }


def test_lite_by_name_passes_the_golden_test(tmp_path, pose_jpg, pose_expected) -> None:
    """MediaPipe's pose_test.py holds lite, full and heavy to the same 15 px (measured 8.6 px)."""
    lite = load_model(ModelOptions("lite", tmp_path))
    assert (
        lite.name == "lite"
        and lite.network_sha256["landmarks"] == registry().networks["blazepose-lite"].sha256
    )
    with PoseEstimator(model=lite) as estimator:
        frame = estimator.estimate(pose_jpg)
    expected = np.array(pose_expected["solutions_pose_test"]["pixel_xy"])
    assert len(frame) == 1 and np.abs(frame.xy[0] - expected).max() <= 15.0


def test_unknown_and_missing_models_say_what_to_do(tmp_path) -> None:
    with pytest.raises(
        InvalidOptionError, match=r"unknown model 'huge'; choose from full, lite, heavy|lite, full"
    ):
        load_model(ModelOptions("huge", tmp_path))
    with pytest.raises(
        ModelUnavailableError, match=r"`localpose models fetch heavy`.*`localpose models add FILE`"
    ):
        load_model(ModelOptions("heavy", tmp_path))


def test_a_damaged_shipped_file_is_named_with_its_fix(monkeypatch, tmp_path) -> None:
    from dataclasses import replace

    from localpose.models import store

    reg = registry()
    altered = dict(reg.networks)
    altered["blazepose-full"] = replace(reg.networks["blazepose-full"], sha256="0" * 64)
    monkeypatch.setattr(store, "registry", lambda: replace(reg, networks=altered))
    with pytest.raises(ModelUnavailableError) as error:
        load_model(ModelOptions("full", tmp_path))
    text = str(error.value)
    assert "weights/pose_landmark_full.tflite is damaged" in text and "pip install --force-reinstall" in text


def test_added_network_is_stored_atomically_and_hash_checked(model, tmp_path, pose_jpg) -> None:
    lite = (WEIGHTS / "pose_landmark_lite.tflite").read_bytes()
    added = add_model(lite, tmp_path, "mine", file_name="pose_landmark_lite.tflite")
    assert added.name == "mine" and added.path == tmp_path / "models" / "mine"
    assert "sha256 matches the registry" in added.source
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    with PoseEstimator(model=ModelOptions("mine", tmp_path)) as estimator:
        assert len(estimator.estimate(pose_jpg)) == 1
    listed = {m.name: m for m in installed_models(tmp_path)}
    assert listed["mine"].installed and listed["mine"].files[1]["sha256"] == hashlib.sha256(lite).hexdigest()
    # a truncated file is one clear error naming the file and the fix
    stored = tmp_path / "models" / "mine" / "landmarks.tflite"
    stored.write_bytes(lite[: len(lite) // 2])
    with pytest.raises(
        ModelUnavailableError, match=r"landmarks.tflite fails its hash check.*models add FILE"
    ):
        load_model(ModelOptions("mine", tmp_path))


def test_added_task_bundle_keeps_its_own_file(model, tmp_path) -> None:
    task = _task_bundle(model.networks["detector"], model.networks["landmarks"])
    added = add_model(task, tmp_path, file_name="pose_landmarker_custom.task")
    assert added.name == "custom" and added.task_bundle == task
    assert added.network_sha256 == model.network_sha256


def test_add_refuses_shipped_names_and_non_networks(tmp_path) -> None:
    lite = (WEIGHTS / "pose_landmark_lite.tflite").read_bytes()
    with pytest.raises(InvalidOptionError, match="'full' ships with localpose"):
        add_model(lite, tmp_path, "full")
    with pytest.raises(ModelUnavailableError, match=r"neither a PoseLandmarker \.task bundle nor a \.tflite"):
        add_model(b"hello world, not a network", tmp_path, "junk")
    detector = (WEIGHTS / "pose_detection.tflite").read_bytes()
    with pytest.raises(ModelUnavailableError, match="not a BlazePose landmark network"):
        add_model(detector, tmp_path, "wrong")  # a real network, but not a landmark one
    assert not (tmp_path / "models" / "wrong").exists()


def test_user_task_file_is_used_as_given(model, tmp_path, pose_jpg) -> None:
    custom = tmp_path / "pose_landmarker_custom.task"
    custom.write_bytes(_task_bundle(model.networks["detector"], model.networks["landmarks"]))
    bundle = load_model(ModelOptions(custom, tmp_path / "unused"))
    assert (bundle.name, bundle.path, bundle.network_sha256) == ("custom", custom, model.network_sha256)
    assert not (tmp_path / "unused").exists()
    with PoseEstimator(model=bundle) as estimator:
        assert len(estimator.estimate(pose_jpg)) == 1


def test_bad_task_files_fail_with_a_clear_message(tmp_path) -> None:
    path = tmp_path / "bad.task"
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("pose_detector.tflite", b"x")
    with pytest.raises(ModelUnavailableError, match=r"missing pose_landmarks_detector\.tflite"):
        load_model(ModelOptions(path))
    with pytest.raises(ModelUnavailableError, match="cannot read model file"):
        load_model(ModelOptions(tmp_path / "missing.task"))


@pytest.mark.slow
def test_concurrent_adds_leave_one_consistent_entry(tmp_path) -> None:
    code = (
        "import sys; from pathlib import Path; from importlib import resources; "
        "from localpose.models import add_model; "
        "data = (resources.files('localpose') / 'weights' / 'pose_landmark_lite.tflite').read_bytes(); "
        "print(add_model(data, Path(sys.argv[1]), 'shared').sha256)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4 and len(set(outputs)) == 1
    assert load_model(ModelOptions("shared", tmp_path)).sha256 == outputs[0]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["shared"]


def test_fetch_checks_the_package_before_storing(tmp_path) -> None:
    """The package client's archive must match the card's sha256, else nothing is stored."""

    def fake_client(package: str, version: str, folder: Path) -> Path:
        assert (package, version) == ("@mediapipe/pose", "0.5.1675469404")
        archive = folder / "pose.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo("package/pose_landmark_heavy.tflite")
            info.size = 4
            tar.addfile(info, io.BytesIO(b"TFL3"))
        return archive

    with pytest.raises(ModelUnavailableError, match="does not have the expected sha256"):
        fetch_model("heavy", tmp_path, fake_client)
    assert not (tmp_path / "models" / "heavy").exists()
    with pytest.raises(InvalidOptionError, match="ships with localpose"):
        fetch_model("full", tmp_path, fake_client)


def test_fetch_without_npm_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    assert main(["models", "--model-cache", str(tmp_path), "fetch", "heavy"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("localpose: error: localpose models fetch needs npm on PATH")


def test_models_cli_lists_adds_and_uses(tmp_path, capsys, pose_jpg) -> None:
    lite = tmp_path / "pose_landmark_lite.tflite"
    lite.write_bytes((WEIGHTS / "pose_landmark_lite.tflite").read_bytes())
    assert main(["models", "--model-cache", str(tmp_path), "add", str(lite), "--name", "lite2"]) == EXIT_OK
    assert main(["models", "--model-cache", str(tmp_path), "list", "--json"]) == EXIT_OK
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out.split("\n", 1)[1])}
    assert listed["full"]["shipped"] and listed["full"]["default"] and listed["lite2"]["installed"]
    assert not listed["heavy"]["installed"] and listed["heavy"]["size"] == 27709200 + 2959046  # + detector
    code = main(["image", str(pose_jpg), "-q", "--model", "lite2", "--model-cache", str(tmp_path)])
    assert code == EXIT_OK
    assert (
        main(["image", str(pose_jpg), "-q", "--model", "nope", "--model-cache", str(tmp_path)]) == EXIT_USAGE
    )
    assert "unknown model 'nope'; choose from" in capsys.readouterr().err
