"""Decoding and encoding real videos with PyAV: counts, times, rotation, damage, the H.264 writer."""

from __future__ import annotations

import itertools
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from localpose.errors import InvalidVideoError
from localpose.video import VideoWriter, frame_timestamps, probe, read_frames

# Frame counts and sizes as documented in the shared data's SOURCES.md.
CLIPS = {
    "mediapipe/pose_squats.mp4": (65, 720, 1280, "h264"),
    "videos/dance_synthetic_tfjs.mp4": (120, 576, 576, "h264"),
    "videos/pushup_side.mp4": (472, 1280, 720, "h264"),
    "videos/two_people_pose2sim_cam01.mp4": (100, 1088, 1920, "h264"),
    "videos/two_people_sports2d.mp4": (230, 1768, 994, "vp9"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_probe_and_decode_every_frame(data_dir: Path, name: str) -> None:
    frames, width, height, codec = CLIPS[name]
    info = probe(data_dir / name)
    assert (info.frame_count, info.width, info.height, info.codec) == (frames, width, height, codec)
    decoded = [t for _, t in read_frames(data_dir / name)]
    assert len(decoded) == frames
    assert decoded == frame_timestamps(data_dir / name)
    assert all(b > a for a, b in itertools.pairwise(decoded))


def test_variable_frame_rate_times_are_kept(data_dir: Path) -> None:
    """pushup_side.mp4 has irregular frame times at its start: they must come out as stored."""
    stamps = frame_timestamps(data_dir / "videos/pushup_side.mp4")
    with av.open(str(data_dir / "videos/pushup_side.mp4")) as container:
        stream = container.streams.video[0]
        stored = sorted(float(p.pts * stream.time_base * 1000) for p in container.demux(stream) if p.size)
    np.testing.assert_allclose(stamps, stored, atol=1e-6)
    steps = np.diff(stamps)
    assert steps.max() - steps.min() > 10  # really variable: not a constant 33.4 ms


def test_reading_a_time_range_seeks_exactly(data_dir: Path) -> None:
    path = data_dir / "videos/pushup_side.mp4"
    stamps = frame_timestamps(path)
    got = [t for _, t in read_frames(path, stamps[200], stamps[260])]
    assert got == stamps[200:260]


def test_max_side_shrinks_frames(data_dir: Path) -> None:
    rgb, _ = next(iter(read_frames(data_dir / "videos/pushup_side.mp4", max_side=640)))
    assert rgb.shape == (360, 640, 3)


def _rotate_display_matrix(path: Path) -> None:
    """Set the MP4 track header's display matrix to 'rotate 90 degrees clockwise' (as phones do)."""
    data = bytearray(path.read_bytes())
    identity = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    clockwise = struct.pack(">9I", 0, 0x10000, 0, 0xFFFF0000, 0, 0, 0, 0, 0x40000000)
    at = data.index(identity, data.index(b"tkhd"))
    data[at : at + len(identity)] = clockwise
    path.write_bytes(bytes(data))


def test_rotation_metadata_is_honoured(data_dir: Path, tmp_path: Path) -> None:
    """A portrait clip stored sideways with a rotation flag decodes upright again."""
    originals = [rgb for rgb, _ in read_frames(data_dir / "mediapipe/pose_squats.mp4", max_side=320)][:5]
    stored = tmp_path / "sideways.mp4"
    with VideoWriter(stored, (originals[0].shape[0], originals[0].shape[1]), 5.0, crf=18) as writer:
        for k, rgb in enumerate(originals):
            writer.write(np.ascontiguousarray(np.rot90(rgb, k=1)), 200.0 * k)  # turned left for storage
    _rotate_display_matrix(stored)
    info = probe(stored)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (originals[0].shape[1], originals[0].shape[0])
    decoded = [rgb for rgb, _ in read_frames(stored)]
    assert len(decoded) == 5
    for got, want in zip(decoded, originals, strict=True):
        assert got.shape == want.shape
        assert np.abs(got.astype(int) - want).mean() < 6  # upright, up to compression
        assert np.abs(got.astype(int) - want[::-1, ::-1]).mean() > 20  # and not upside down


@pytest.mark.slow
def test_truncated_file_yields_what_it_holds(data_dir: Path, tmp_path: Path) -> None:
    """two_people_sports2d.mp4 keeps its index first: cut at 60%, the frames before the cut decode."""
    source = (data_dir / "videos/two_people_sports2d.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source[: len(source) * 6 // 10])
    frames = [t for _, t in read_frames(cut)]
    assert 100 <= len(frames) < 230
    assert frames == frame_timestamps(data_dir / "videos/two_people_sports2d.mp4")[: len(frames)]


def test_truncated_file_without_its_index_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    """pose_squats.mp4 keeps its index (moov) at the end: cut short, nothing can be located."""
    source = (data_dir / "mediapipe/pose_squats.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(source[: len(source) // 2])
    with pytest.raises(InvalidVideoError, match="not a readable video"):
        probe(cut)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a video at all\n" * 100, bytes(range(256)) * 64],
    ids=["empty", "text", "noise"],
)
def test_not_a_video_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(InvalidVideoError, match=r"clip\.mp4"):
        probe(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideoError, match="no such file"):
        list(read_frames(tmp_path / "nope.mp4"))


def test_writer_keeps_frames_times_and_odd_sizes(tmp_path: Path) -> None:
    """H.264 wants even sizes: an odd-sized picture is padded, every frame and time kept."""
    path = tmp_path / "out.mp4"
    times = [0.0, 40.0, 80.0, 200.0, 240.0]  # a gap: variable frame rate
    rng = np.random.default_rng(0)
    with VideoWriter(path, (33, 21), 25.0) as writer:
        for t in times:
            writer.write(rng.integers(0, 255, (21, 33, 3), dtype=np.uint8), t)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (34, 22)
        got = [float(f.pts * stream.time_base * 1000) for f in container.decode(stream)]
    np.testing.assert_allclose(got, times, atol=1.0)
    assert stream.time_base <= Fraction(1, 1000)


def test_drawing_on_decoded_frames_does_not_leak_into_later_frames(data_dir: Path) -> None:
    """A decoded frame shares its pixels with the decoder's reference pictures; i420_planes
    gives the frame its own buffer, so what is drawn on frame k never shows in frame k + 1."""
    from localpose.video.io import i420_planes, read_decoded

    path = data_dir / "videos/pushup_side.mp4"
    clean = [frame.to_ndarray(format="yuv420p") for frame, _, _ in itertools.islice(read_decoded(path), 40)]
    # one decoder thread, as in worker processes: the decoder then reuses its frames as references
    seen = []
    for k, (frame, _, _) in enumerate(itertools.islice(read_decoded(path, threads=1), 40)):
        seen.append(frame.to_ndarray(format="yuv420p"))
        y, _u, _v = i420_planes(frame)
        y[100:300, 100 + 5 * k : 400 + 5 * k] = 255  # a white block, somewhere else each frame
    assert all(np.array_equal(a, b) for a, b in zip(clean, seen, strict=True))
