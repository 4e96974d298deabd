"""Live input: a session fed frame by frame, and `localpose live` reading a real HTTP stream."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from localpose.cli import main
from localpose.live import LiveSession
from localpose.models import ModelBundle
from localpose.options import ModelOptions
from localpose.video import estimate_video, read_frames

pytestmark = pytest.mark.slow  # live sessions over whole clips and streams


def test_session_tracks_and_smooths_causally(data_dir: Path, model: ModelBundle) -> None:
    path = data_dir / "mediapipe/pose_squats.mp4"
    with LiveSession(model=model) as session:
        live = [session.process(rgb, t) for rgb, t in read_frames(path)]
    raw = list(estimate_video(path, model=model))
    assert len(live) == 65 and all(list(f.track_id) == [0] for f in live)
    assert [f.timestamp_ms for f in live] == [f.timestamp_ms for f in raw]
    difference = np.array([np.abs(a.xy - b.xy).mean() for a, b in zip(live, raw, strict=True)])
    assert difference[0] == pytest.approx(0.0, abs=1e-4)  # a filter starts on its first value
    assert 0.2 < difference[1:].mean() < 10.0  # smoothed, but it still follows the person


@pytest.fixture()
def http_stream(data_dir: Path) -> Iterator[str]:
    """The shared videos folder served over HTTP on loopback (a file played as a stream)."""
    handler = functools.partial(QuietHandler, directory=str(data_dir / "videos"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_live_command_reads_a_stream(http_stream: str, tmp_path: Path, model: ModelBundle, capsys) -> None:
    out = tmp_path / "live.jsonl"
    cache = str(model.path.parent) if model.path else str(ModelOptions().cache_dir)
    code = main(
        [
            "live",
            f"{http_stream}/two_people_sports2d.mp4",
            "--max-frames",
            "40",
            "--num-poses",
            "2",
            "--model-cache",
            cache,
            "-o",
            str(out),
        ]
    )
    assert code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame_index"] for r in records] == list(range(40))
    stamps = [r["timestamp_ms"] for r in records]
    assert stamps == sorted(stamps) and stamps[-1] == pytest.approx(39 * 1000 / 30, abs=1)
    people = [p for r in records for p in r["people"]]
    assert len(people) >= 30 and all(p["track_id"] is not None for p in people)
    assert "40 frame(s)" in capsys.readouterr().err


def test_live_command_unreachable_stream_fails_cleanly(tmp_path: Path, capsys) -> None:
    code = main(["live", "http://127.0.0.1:9/none.mp4", "--model-cache", str(tmp_path)])
    assert code == 1  # a source that cannot be opened is a failed input (InvalidVideoError)
    assert "cannot open" in capsys.readouterr().err
