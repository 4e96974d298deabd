"""The model bundle is built offline from the mediapipe wheel, cached atomically and hash-checked."""

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from localpose.engine import tasks as engine
from localpose.errors import ModelUnavailableError
from localpose.estimate import PoseEstimator
from localpose.models import load_model
from localpose.options import ModelOptions


def test_build_writes_bundle_and_manifest_with_matching_hash(model, model_cache):
    assert model.path is not None and model.path.parent == model_cache
    manifest = json.loads(model.path.with_suffix(".json").read_text())
    assert manifest["sha256"] == model.sha256 == hashlib.sha256(model.path.read_bytes()).hexdigest()
    with zipfile.ZipFile(model.path) as bundle:
        infos = {i.filename: i for i in bundle.infolist()}
    assert set(infos) == set(engine.BUNDLE_ENTRIES)
    # stored uncompressed and 4-byte aligned, as MediaPipe memory-maps the entries
    for info in infos.values():
        assert info.compress_type == zipfile.ZIP_STORED
        data_offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        assert data_offset % 4 == 0


def test_bundle_build_is_reproducible():
    files = engine.find_wheel_model_files()
    detector, landmarks = files.detector.read_bytes(), files.landmarks.read_bytes()
    assert engine.build_task_bundle(detector, landmarks) == engine.build_task_bundle(detector, landmarks)


def test_second_load_uses_the_cache(model, model_cache):
    before = model.path.stat().st_mtime_ns
    again = load_model(ModelOptions(cache_dir=model_cache))
    assert again.sha256 == model.sha256 and model.path.stat().st_mtime_ns == before


def test_corrupt_cache_is_detected_and_rebuilt(model, tmp_path):
    cached = load_model(ModelOptions(cache_dir=tmp_path))
    data = bytearray(cached.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached.path.write_bytes(bytes(data))
    rebuilt = load_model(ModelOptions(cache_dir=tmp_path))
    assert rebuilt.sha256 == model.sha256
    assert hashlib.sha256(rebuilt.path.read_bytes()).hexdigest() == model.sha256


def test_concurrent_first_runs_do_not_corrupt_the_cache(model, tmp_path):
    code = (
        "import sys; from pathlib import Path; from localpose.models import load_model; "
        "from localpose.options import ModelOptions; "
        "print(load_model(ModelOptions(cache_dir=Path(sys.argv[1]))).sha256)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert set(outputs) == {model.sha256}
    tasks = list(tmp_path.glob("*.task"))
    assert len(tasks) == 1 and hashlib.sha256(tasks[0].read_bytes()).hexdigest() == model.sha256
    assert not list(tmp_path.glob(".*.tmp")), "temporary files must not be left behind"


def test_unwritable_cache_falls_back_to_memory(model, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    bundle = load_model(ModelOptions(cache_dir=not_a_dir / "cache"))
    assert bundle.path is None and bundle.sha256 == model.sha256


def test_user_task_file_is_used_as_given(model, tmp_path, pose_jpg):
    custom = tmp_path / "pose_landmarker_custom.task"
    custom.write_bytes(model.data)
    bundle = load_model(ModelOptions(task_file=custom, cache_dir=tmp_path / "unused"))
    assert (bundle.name, bundle.path, bundle.sha256) == ("pose_landmarker_custom", custom, model.sha256)
    assert not (tmp_path / "unused").exists()
    with PoseEstimator(model=bundle) as estimator:
        assert len(estimator.estimate(pose_jpg)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip", "not a zip file"),
        (None, "missing pose_landmarks_detector.tflite"),
    ],
)
def test_bad_task_files_fail_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.task"
    if content is None:
        with zipfile.ZipFile(path, "w") as bundle:
            bundle.writestr("pose_detector.tflite", b"x")
    else:
        path.write_bytes(content)
    with pytest.raises(ModelUnavailableError, match=message):
        load_model(ModelOptions(task_file=path))
    with pytest.raises(ModelUnavailableError, match="cannot read model file"):
        load_model(ModelOptions(task_file=tmp_path / "missing.task"))


def test_missing_wheel_weights_say_what_and_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(engine, "_mediapipe_root", lambda: Path(tmp_path))
    with pytest.raises(ModelUnavailableError) as error:
        load_model(ModelOptions(cache_dir=tmp_path / "cache"))
    text = str(error.value)
    assert "pose_landmark_full.tflite" in text
    assert "pip install 'mediapipe==0.10.21'" in text and "--model" in text
