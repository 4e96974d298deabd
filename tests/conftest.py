"""Shared fixtures: the real data in ../shared/data and one real model for the session."""

from __future__ import annotations

import json
import os
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from localpose.models import ModelBundle, load_model
from localpose.options import ModelOptions

REPO = Path(__file__).resolve().parents[1]


def _find_data_dir() -> Path:
    """$LOCALPOSE_TEST_DATA, else ../shared/data beside the checkout, else /work/shared/data."""
    candidates = [
        os.environ.get("LOCALPOSE_TEST_DATA"),
        REPO.parent / "shared" / "data",
        Path("/work/shared/data"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "SOURCES.md").is_file():
            return Path(candidate)
    raise RuntimeError(
        "test data not found: set LOCALPOSE_TEST_DATA to the shared data folder "
        f"(looked in {', '.join(str(c) for c in candidates if c)})"
    )


DATA = _find_data_dir()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `mediapipe` need MediaPipe Tasks (the localpose[mediapipe] extra)."""
    from localpose.engine import mediapipe_version

    if mediapipe_version() is not None:
        return
    skip = pytest.mark.skip(reason="needs MediaPipe Tasks: pip install 'localpose[mediapipe]'")
    for item in items:
        if "mediapipe" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def model(model_cache: Path) -> ModelBundle:
    """The bundled full model, built once per session into a fresh cache."""
    return load_model(ModelOptions(cache_dir=model_cache))


@pytest.fixture(scope="session")
def pose_jpg() -> Path:
    return DATA / "mediapipe" / "pose.jpg"


@pytest.fixture(scope="session")
def pose_expected() -> dict:
    return json.loads((DATA / "mediapipe" / "pose_expected.json").read_text())


@pytest.fixture(scope="session")
def coco_truth() -> dict:
    return json.loads((DATA / "images" / "coco" / "coco_person_keypoints.json").read_text())


@pytest.fixture(scope="session")
def coco_photos(coco_truth: dict) -> dict[int, Path]:
    """The annotated COCO photos by image id."""
    return {image["id"]: DATA / "images" / "coco" / image["file_name"] for image in coco_truth["images"]}


@pytest.fixture(scope="session")
def fake_camera(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pose_squats.mp4 as a Y4M file (yuv420p, 360x640) for chromium's fake camera."""
    import av

    from localpose.video import read_frames

    path = tmp_path_factory.mktemp("camera") / "squats.y4m"
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=Fraction(5))
        stream.width, stream.height, stream.pix_fmt = 360, 640, "yuv420p"
        for rgb, _ in read_frames(data_dir / "mediapipe/pose_squats.mp4", max_side=640):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="session")
def webui_server(model: ModelBundle, model_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    """One real `localpose serve` (2 workers) for all the browser tests."""
    from server_support import start_server

    running = start_server(model_cache, tmp_path_factory.mktemp("webui"), ["--workers", "2"])
    yield running
    running.stop()


@pytest.fixture(scope="module")  # Playwright's loop must be gone before other modules use asyncio
def chromium(fake_camera: Path):
    """Debian's chromium through Playwright, with the squats clip as its camera."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={fake_camera}",
                # A document fulfilled by Playwright (the CSP test) counts as public to chromium,
                # which then refuses its WebSocket to 127.0.0.1; the real server's pages do not.
                "--disable-features=LocalNetworkAccessChecks",
            ],
        )
        yield browser
        browser.close()
