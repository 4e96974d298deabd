"""Resumable output folders: files renamed into place when complete, a manifest of finished inputs."""

import numpy as np
import pytest

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
