"""`--ray` on a real Ray cluster on loopback: outputs identical to a local run, a node killed mid-run.

The cluster is a head and a second node process (`ray start`, one CPU each) started for
this module and stopped by process id at the end (tests/ray_support.py).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from localpose.cli import EXIT_FAILED_INPUTS, main
from localpose.cluster import INSTALL_HINT, RayOptions
from localpose.video import VideoOptions, VideoPool, process_video

VIDEO = "videos/dance_synthetic_tfjs.mp4"


def _need_ray() -> None:
    # Not imported here: Ray reads its token settings when it is first imported (cluster fixture).
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'localpose[ray]')")


@pytest.fixture(scope="module")
def cluster():
    _need_ray()
    from ray_support import start_loopback_cluster

    running = start_loopback_cluster()
    try:
        with pytest.MonkeyPatch.context() as patch:  # this process is the cluster's driver
            for name, value in running.env.items():
                patch.setenv(name, value)
            yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def photos(tmp_path_factory, data_dir) -> Path:
    """The shared photos (13), four times over, and one file that is not an image."""
    folder = tmp_path_factory.mktemp("photos")
    sources = sorted((data_dir / "images").rglob("*.jpg"))
    for copy in range(4):
        for source in sources:
            shutil.copy(source, folder / f"{copy}_{source.name}")
    (folder / "2_notes.jpg").write_text("not a photo")
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".localpose" not in p.parts
    }


@pytest.fixture(scope="module")
def local_images(photos, tmp_path_factory, model_cache) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local-images")
    argv = ["image", str(photos), "-o", str(out), "-f", "json,csv,coco", "-w", "2", "--model-cache"]
    assert main([*argv, str(model_cache)]) == EXIT_FAILED_INPUTS  # the one non-image
    return _files(out)


def _image_argv(photos: Path, out: Path, address: str, model_cache: Path) -> list[str]:
    outputs = ("-o", str(out), "-f", "json,csv,coco")
    return ["image", str(photos), *outputs, f"--ray={address}", "--model-cache", str(model_cache)]


@pytest.mark.slow
def test_images_on_the_cluster_equal_a_local_run_and_resume(
    cluster, photos, local_images, tmp_path, model_cache, capsys
):
    out = tmp_path / "ray"
    assert main(_image_argv(photos, out, cluster.address, model_cache)) == EXIT_FAILED_INPUTS
    err = capsys.readouterr().err
    assert "2_notes.jpg: not a supported image" in err
    assert "52 image(s) processed, 1 failed" in err
    produced = _files(out)
    assert len(produced) == 52 + 3  # one JSON per photo, keypoints.csv, coco_results.json, coco_images.json
    assert produced == local_images  # byte for byte
    assert not list(out.rglob(".*.partial*"))

    # A re-run skips every finished photo; a deleted output is written again, the same.
    (out / "1_103319.json").unlink()
    assert main(_image_argv(photos, out, cluster.address, model_cache)) == EXIT_FAILED_INPUTS
    assert "1 image(s) processed, 51 done by an earlier run, 1 failed" in capsys.readouterr().err
    assert _files(out) == local_images


@pytest.mark.slow
def test_a_video_on_the_cluster_equals_a_local_run(cluster, data_dir, tmp_path, model):
    source = data_dir / VIDEO
    options = VideoOptions(workers=2, outputs=("mp4", "jsonl", "csv", "coco"))
    local = process_video(source, tmp_path / "local", options, model)
    with VideoPool(0, RayOptions(address=cluster.address)) as pool:
        assert pool.workers == 2  # one actor per CPU of the two nodes
        seen: list[int] = []
        remote = process_video(source, tmp_path / "ray", options, model, seen_progress(seen), pool=pool)
    assert remote.workers == local.workers == 2 and remote.frames == local.frames == 120
    assert max(seen) == 120 and len(seen) >= 2  # progress came through the cluster's queue
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")  # JSON Lines, CSV, COCO and MP4


@pytest.mark.slow
def test_ctrl_c_stops_a_cluster_run_cleanly(cluster, data_dir, tmp_path, model_cache):
    """SIGINT while the MP4 is rendered on the actors: exit 130, no partial file, nothing recorded."""
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-c",
        "import sys; from localpose.cli import main; sys.exit(main(sys.argv[1:]))",
    ]
    command += ["video", str(data_dir / "videos" / "pushup_side.mp4"), "-o", str(out), "-q"]
    command += [f"--ray={cluster.address}", "--model-cache", str(model_cache)]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob(".*partial*")) and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before the MP4 was being written"
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
    stopped = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "localpose: interrupted" in err
    assert time.monotonic() - stopped < 30
    assert not list(out.glob(".*partial*"))  # finished files only; the MP4 was not
    assert not (out / "pushup_side.pose.mp4").exists()
    assert "pushup_side" not in (
        (out / ".localpose" / "manifest.jsonl").read_text()
        if (out / ".localpose" / "manifest.jsonl").exists()
        else ""
    )


@pytest.mark.slow
def test_bench_cluster_writes_json(cluster, data_dir, tmp_path, model_cache, monkeypatch, capsys):
    monkeypatch.setenv("LOCALPOSE_CACHE_DIR", str(model_cache))
    out = tmp_path / "bench.json"
    argv = ["bench", "cluster", "--images", "16", "--folder", str(data_dir / "images")]
    argv += ["--video", str(data_dir / VIDEO), "-w", "2"]
    assert main([*argv, f"--ray={cluster.address}", "-o", str(out)]) == 0
    results = json.loads(out.read_text())
    for task, items in (("images", 16), ("video", 120)):
        runs = results["runs"][task]
        assert runs["items"] == items and runs["same_results"] is True
        assert runs["overhead_ratio"] == pytest.approx(
            runs["ray"]["seconds"] / runs["local"]["seconds"], 0.01
        )
        assert runs["local"]["peak_memory_mb"] > 100  # at least a model and an interpreter
    assert "overhead" in capsys.readouterr().out


def seen_progress(seen: list[int]):
    def callback(progress) -> None:
        if progress.stage == "estimate":
            seen.append(progress.frames_done)

    return callback


@pytest.mark.slow
def test_an_item_that_kills_its_worker_is_reported_and_the_others_finish(cluster):
    """The item dies with every actor it is given; Ray restarts the actors, the rest completes."""
    from localpose.cluster import RayPool
    from localpose.errors import WorkerLostError

    def work(x: int) -> int:  # defined here, so Ray ships it by value to the actors
        import os

        if x == 3:
            os._exit(1)
        return x * x

    with RayPool(RayOptions(address=cluster.address, max_attempts=2)) as pool:
        futures = [pool.submit(work, x) for x in range(8)]
        outcomes = [f.exception(timeout=120) or f.result() for f in futures]
        stats = pool.stats
    assert isinstance(outcomes[3], WorkerLostError) and "died 2 times" in str(outcomes[3])
    assert [o for k, o in enumerate(outcomes) if k != 3] == [x * x for x in range(8) if x != 3]
    # Item 3 killed an actor holding other items too (all re-sent, each alone), then killed
    # an actor twice on its own (Ray restarted them): only it failed, the innocent ones did not.
    assert stats.failed == ["(3,)"] and stats.done == 7, stats
    assert stats.actors_lost in (2, 3) and stats.retried >= 1, stats


class _KillWhen(threading.Thread):
    """Kills the second node's raylet once `ready()` is true (checked every 20 ms, for 120 s at most)."""

    def __init__(self, cluster, ready) -> None:
        super().__init__(daemon=True)
        self.cluster, self.ready, self.killed_at = cluster, ready, None

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self.ready():
            time.sleep(0.02)
        self.cluster.kill_worker_raylet()
        self.killed_at = time.monotonic()


@pytest.mark.slow
def test_a_node_killed_mid_run_loses_no_image(
    cluster, photos, local_images, tmp_path, model_cache, capsys, caplog
):
    out = tmp_path / "ray"
    killer = _KillWhen(cluster, lambda: len(list(out.glob("*.json"))) >= 2 and cluster.worker_node_busy())
    killer.start()
    with caplog.at_level(logging.WARNING, logger="localpose.cluster"):
        code = main(_image_argv(photos, out, cluster.address, model_cache))
    killer.join(timeout=5)
    assert killer.killed_at is not None
    assert code == EXIT_FAILED_INPUTS
    err = capsys.readouterr().err
    assert "52 image(s) processed, 1 failed" in err
    retried = [r.getMessage() for r in caplog.records if "handed to another actor" in r.getMessage()]
    # The photos the lost actor held went to the survivor (none when the kill caught it between
    # two calls, which a loaded machine makes possible); whichever way, nothing is lost below.
    assert all("actor(s) were lost" in message for message in retried), (err, caplog.text)
    print(retried or "the lost actor held no photo")  # the figure for the record
    assert _files(out) == local_images  # every output present, byte for byte


@pytest.mark.slow
def test_a_node_killed_during_a_video_loses_no_frame(cluster, data_dir, tmp_path, model, caplog):
    cluster.add_worker_node()  # the previous test killed the other one
    source = data_dir / VIDEO
    options = VideoOptions(workers=2, outputs=("jsonl", "csv"))
    local = process_video(source, tmp_path / "local", options, model)
    seen: list[int] = []
    killer = _KillWhen(cluster, lambda: bool(seen) and max(seen) >= 20 and cluster.worker_node_busy())
    with VideoPool(0, RayOptions(address=cluster.address)) as pool:
        killer.start()
        remote = process_video(source, tmp_path / "ray", options, model, seen_progress(seen), pool=pool)
        stats = pool.executor.stats
    killer.join(timeout=5)
    assert killer.killed_at is not None
    print(f"video: {stats.retried} chunk(s) re-run after {stats.actors_lost} actor(s) were lost")
    assert stats.actors_lost == 1 and stats.retried >= 1
    assert remote.frames == local.frames == 120 and not remote.errors
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")


def test_ray_flag_without_ray_says_how_to_install_it(tmp_path, pose_jpg):
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from localpose.cli import main\n"
        f"sys.exit(main(['image', {str(pose_jpg)!r}, '-o', {str(tmp_path)!r}, '--ray']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"localpose: error: {INSTALL_HINT}"]


def test_ray_is_imported_only_when_a_pool_starts():
    """localpose.cluster is the one module that imports ray, and only inside its functions."""
    src = Path(__file__).resolve().parents[1] / "src" / "localpose"
    importers = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if any(line.strip().startswith(("import ray", "from ray")) for line in p.read_text().splitlines())
    )
    assert importers == ["cluster.py"]
    code = "import sys, localpose.batch, localpose.video, localpose.cli; print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
