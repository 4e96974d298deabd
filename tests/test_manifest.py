"""Resumable output folders: files renamed into place when complete, a manifest of finished inputs."""

import numpy as np
import pytest

from localpose.cli import main
from localpose.manifest import Manifest, atomic_path, fingerprint
from localpose.result import PoseFrame


def test_a_file_appears_under_its_name_only_when_complete(tmp_path):
    final = tmp_path / "a.json"
    with atomic_path(final) as temporary:
        temporary.write_text("half")
        assert not final.exists() and temporary.name == ".a.partial.json"  # suffix kept for writers
    assert final.read_text() == "half" and not temporary.exists()
    with pytest.raises(RuntimeError), atomic_path(final) as temporary:
        temporary.write_text("broken")
        raise RuntimeError("interrupted")
    assert final.read_text() == "half" and list(tmp_path.iterdir()) == [final]


def test_a_folder_output_replaces_the_old_one_whole(tmp_path):
    final = tmp_path / "clip_openpose"
    final.mkdir()
    (final / "old.json").write_text("{}")
    with atomic_path(final) as temporary:
        temporary.mkdir()
        (temporary / "new.json").write_text("{}")
    assert sorted(p.name for p in final.iterdir()) == ["new.json"]


def test_finished_inputs_are_known_until_the_file_settings_or_outputs_change(tmp_path):
    source, out = tmp_path / "photo.jpg", tmp_path / "out"
    source.write_bytes(b"first")
    out.mkdir()
    output = out / "photo.json"
    output.write_text("{}")
    Manifest(out, fingerprint("options", 1)).add(source, [output])
    assert Manifest(out, fingerprint("options", 1)).finished(source, [output])  # read back from disk
    assert not Manifest(out, fingerprint("options", 2)).finished(source, [output])  # other settings
    assert not Manifest(out, fingerprint("options", 1)).finished(source, [output, out / "photo.csv"])
    output.unlink()
    assert not Manifest(out, fingerprint("options", 1)).finished(source, [])  # an output went missing
    output.write_text("{}")
    source.write_bytes(b"changed")
    assert not Manifest(out, fingerprint("options", 1)).finished(source, [output])


def test_kept_poses_come_back_bit_for_bit(tmp_path):
    rng = np.random.default_rng(3)
    frame = PoseFrame(
        image_size=(640, 480),
        xy=rng.random((2, 33, 2), dtype=np.float32) * 600,
        z=rng.random((2, 33), dtype=np.float32),
        visibility=rng.random((2, 33), dtype=np.float32),
        presence=rng.random((2, 33), dtype=np.float32),
        world=rng.random((2, 33, 3), dtype=np.float32),
        score=np.array([0.9, 0.7], dtype=np.float32),
        timestamp_ms=12.5,
    )
    manifest = Manifest(tmp_path, "x")
    manifest.keep_frame("sub/photo", frame)
    back = manifest.kept_frame("sub/photo")
    assert back.image_size == frame.image_size and back.timestamp_ms == 12.5
    for name in ("xy", "z", "visibility", "presence", "world", "score", "track_id"):
        assert np.array_equal(getattr(back, name), getattr(frame, name)), name
    assert back.flags == frame.flags


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if ".localpose" not in p.parts}


def test_image_rerun_skips_finished_photos_and_writes_the_same_files(tmp_path, data_dir, model_cache, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "images" / "coco").glob("*.jpg"))[:3]:
        (photos / source.name).write_bytes(source.read_bytes())
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
    assert main(argv) == 0
    first = _files(out)
    # per photo its JSON and overlay; keypoints.csv, coco_results.json and coco_images.json
    assert len(first) == 3 * 2 + 3 and not list(out.rglob("*.partial*"))
    victim = sorted(out.glob("*.json"))[0]
    victim.unlink()
    assert main(argv) == 0
    assert "1 image(s) processed, 2 done by an earlier run, 0 failed" in capsys.readouterr().err
    assert _files(out) == first  # CSV and COCO, built from all three, byte for byte
    assert main([*argv, "-n", "2"]) == 0  # other options: everything again
    assert "3 image(s) processed, 0 failed" in capsys.readouterr().err


@pytest.mark.slow
def test_video_rerun_skips_a_finished_video(tmp_path, data_dir, model_cache, capsys):
    video = data_dir / "videos" / "dance_synthetic_tfjs.mp4"
    out = tmp_path / "out"
    argv = ["video", str(video), "-o", str(out), "-f", "jsonl,csv,openpose", "-w", "1"]
    assert main([*argv, "--model-cache", str(model_cache)]) == 0
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*") if ".localpose" not in p.parts}
    assert len(written) == 2 + 1 + 120 and not list(out.rglob("*.partial*"))
    assert main([*argv, "--model-cache", str(model_cache)]) == 0
    assert "dance_synthetic_tfjs.mp4: done by an earlier run" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in written} == written  # nothing rewritten
