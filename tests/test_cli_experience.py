"""The command line as a user meets it: progress on a terminal, quiet in a pipe, `| head`.

Each test runs the real `localpose` command in a child process, with its stderr on a real
pseudo-terminal or a pipe, because what is being tested is how the process sees its stderr.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from PIL import Image

import localpose
from localpose.estimate import PoseEstimator
from localpose.options import ModelOptions

pytestmark = pytest.mark.slow

COMMAND = [sys.executable, "-c", "import sys; from localpose.cli import main; sys.exit(main(sys.argv[1:]))"]
BAR = re.compile(rb"\d+%\|")
"""tqdm's bar: "42%|####      | 5/12"."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """Twelve photos, so the command is still printing when a reader goes away."""
    path = tmp_path_factory.mktemp("photos")
    for index in range(12):
        shutil.copy(data_dir / "mediapipe" / "pose.jpg", path / f"pose{index:02d}.jpg")
    return path


def _run_on_terminal(args: list[str], timeout_s: float = 240.0) -> tuple[int, bytes]:
    """Run the command with stderr on a pseudo-terminal (stdout to /dev/null); all it wrote there."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # 100 columns
    process = subprocess.Popen(
        [*COMMAND, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave
    )
    os.close(slave)
    written = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            written += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    return process.wait(timeout=30), written


def test_image_folder_shows_progress_on_a_terminal(folder: Path, model_cache: Path, tmp_path: Path):
    code, written = _run_on_terminal(
        ["image", str(folder), "-o", str(tmp_path), "--model-cache", str(model_cache)]
    )
    assert code == 0, written
    assert BAR.search(written), written
    assert b"12 image(s) processed" in written


def test_video_shows_progress_on_a_terminal(data_dir: Path, model_cache: Path, tmp_path: Path):
    video = data_dir / "mediapipe" / "pose_squats.mp4"
    code, written = _run_on_terminal(
        [
            "video",
            str(video),
            "-o",
            str(tmp_path),
            "-f",
            "jsonl",
            "-w",
            "1",
            "--model-cache",
            str(model_cache),
        ]
    )
    assert code == 0, written
    assert re.search(rb"pose_squats\.mp4: +\d+%\|", written), written
    assert b"frame" in written


def test_analysis_of_a_video_shows_progress_on_a_terminal(data_dir: Path, model_cache: Path, tmp_path: Path):
    video = data_dir / "mediapipe" / "pose_squats.mp4"
    code, written = _run_on_terminal(
        ["angles", str(video), "--csv", str(tmp_path / "a.csv"), "--model-cache", str(model_cache)]
    )
    assert code == 0, written
    assert re.search(rb"pose_squats\.mp4: +\d+%\|", written), written
    assert (tmp_path / "a.csv").stat().st_size > 1000


def test_bench_shows_progress_on_a_terminal_and_not_in_a_pipe(
    folder: Path, model_cache: Path, tmp_path: Path
):
    args = ["bench", "folder", str(folder), "--images", "6", "--repeat", "1", "-w", "2"]
    args += ["--model-cache", str(model_cache)]
    code, written = _run_on_terminal([*args, "-o", str(tmp_path / "t.json")])
    assert code == 0, written
    assert re.search(rb"bench folder: +\d+%\|", written), written
    piped = subprocess.run(
        [*COMMAND, *args, "-o", str(tmp_path / "p.json")], capture_output=True, timeout=240
    )
    assert piped.returncode == 0, piped.stderr
    assert not BAR.search(piped.stderr) and b"\r" not in piped.stderr, piped.stderr
    assert (tmp_path / "t.json").stat().st_size > 100 and (tmp_path / "p.json").stat().st_size > 100


def test_pipe_gets_no_progress_bar(folder: Path, model_cache: Path, tmp_path: Path):
    result = subprocess.run(
        [*COMMAND, "image", str(folder), "-o", str(tmp_path), "--model-cache", str(model_cache)],
        capture_output=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert not BAR.search(result.stderr) and b"\r" not in result.stderr, result.stderr
    assert result.stderr.decode().strip().startswith("localpose: 12 image(s) processed")


def test_head_ends_without_a_broken_pipe_traceback(folder: Path, model_cache: Path):
    """`localpose image FOLDER | head -n 1`: the reader leaves after one line."""
    process = subprocess.Popen(
        [*COMMAND, "image", str(folder), "--model-cache", str(model_cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as head does once it has its line
    err = process.stderr.read()
    process.stderr.close()
    code = process.wait(timeout=240)
    assert first.startswith(b'{"schema":"localpose/pose-frame"')
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert code == 0


def test_a_pil_image_is_accepted(model_cache: Path, pose_jpg: Path):
    with PoseEstimator(model=ModelOptions(cache_dir=model_cache)) as estimator, Image.open(pose_jpg) as pil:
        from_pil = estimator.estimate(pil)
        from_path = estimator.estimate(pose_jpg)
    assert len(from_pil) == 1 and from_pil.image_size == (1000, 667)
    assert abs(from_pil.xy - from_path.xy).max() < 0.01  # the same pixels, so the same landmarks


def test_help_says_what_the_package_is_and_where_to_start():
    doc = localpose.__doc__ or ""
    assert "offline" in doc.lower()
    for start in ("PoseEstimator", "estimate(", "process_video", "localpose serve"):
        assert start in doc, start


def test_routine_native_lines_are_held_back_and_the_rest_shown():
    script = (
        "import os\n"
        "from localpose.nativelog import hide_routine_native_lines\n"
        "with hide_routine_native_lines():\n"
        "    os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "    os.write(2, b'I0000 00:00:1795491768.707257 2813 task_runner.cc:85] GPU suport\\n')\n"
        "    os.write(2, b'E0000 00:00:1795491768.939032 2831 calculator_graph.cc:887] failed\\n')\n"
        "os.write(2, b'after\\n')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        b"E0000 00:00:1795491768.939032 2831 calculator_graph.cc:887] failed",
        b"after",
    ]


def test_the_library_writes_no_info_lines(model_cache: Path, pose_jpg: Path):
    script = (
        "import sys\n"
        "from localpose import ModelOptions, PoseEstimator\n"
        "with PoseEstimator(model=ModelOptions(cache_dir=sys.argv[1])) as estimator:\n"
        "    assert len(estimator.estimate(sys.argv[2])) == 1\n"
    )
    command = [sys.executable, "-c", script, str(model_cache), str(pose_jpg)]
    result = subprocess.run(command, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"", result.stderr
