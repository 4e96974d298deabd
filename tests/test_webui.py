"""The WebUI in a real browser: Debian's chromium driven by Playwright against a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from server_support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def page(chromium, webui_server: RunningServer):
    context = chromium.new_context(accept_downloads=True, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The server's Content-Security-Policy: the WebUI must never need more than it allows.
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(webui_server.url + "/")
    yield page
    context.close()
    assert errors == [], errors


def _wait_until(page, expression: str, timeout_s: float) -> None:
    """Poll a JavaScript expression from here (Playwright's wait_for_function evaluates it with
    eval inside the page, which the server's CSP rightly forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def _canvas_pixels(page, selector: str, points: np.ndarray) -> np.ndarray:
    return np.array(
        page.evaluate(
            """([selector, points]) => {
                const ctx = document.querySelector(selector).getContext("2d");
                return points.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
            }""",
            [selector, points.round().astype(int).tolist()],
        )
    )


def test_photo_upload_draws_joints_where_the_api_says(
    page, webui_server: RunningServer, pose_jpg: Path, tmp_path: Path
):
    page.set_input_files("#image-file", str(pose_jpg))
    page.wait_for_selector("#image-canvas[data-people='1']", timeout=30_000)
    api = httpx.post(f"{webui_server.url}/api/v1/pose", content=pose_jpg.read_bytes(), timeout=60).json()
    landmarks = api["people"][0]["landmarks"]
    shown = np.array([[p["x"], p["y"]] for p in landmarks if p["visibility"] >= 0.5])
    assert len(shown) >= 25
    pixels = _canvas_pixels(page, "#image-canvas", shown)
    red = (pixels[:, 0] > 200) & (pixels[:, 1] < 80) & (pixels[:, 2] < 80)
    assert red.mean() >= 0.9, pixels[~red]
    # Away from the skeleton the photo itself is shown, not red.
    far = _canvas_pixels(page, "#image-canvas", np.array([[20.0, 20.0], [980.0, 640.0]]))
    assert not ((far[:, 0] > 200) & (far[:, 1] < 80)).any()
    assert page.locator("#landmarks tbody tr").count() == 33
    with page.expect_download() as download:
        page.click("#dl-json")
    saved = tmp_path / "download.json"
    download.value.save_as(saved)
    document = json.loads(saved.read_text())
    assert document["people"][0]["landmarks"] == landmarks


def test_threshold_hides_low_visibility_joints(page, pose_jpg: Path, webui_server: RunningServer):
    page.set_input_files("#image-file", str(pose_jpg))
    page.wait_for_selector("#image-canvas[data-people='1']", timeout=30_000)
    page.fill("#threshold", "1")
    page.dispatch_event("#threshold", "input")
    api = httpx.post(f"{webui_server.url}/api/v1/pose", content=pose_jpg.read_bytes(), timeout=60).json()
    below = np.array([[p["x"], p["y"]] for p in api["people"][0]["landmarks"] if p["visibility"] < 1.0])
    assert len(below) >= 20  # at threshold 1 nearly every joint is hidden
    assert page.locator("#landmarks tr.hidden-point").count() == len(below)
    pixels = _canvas_pixels(page, "#image-canvas", below)
    red = (pixels[:, 0] > 200) & (pixels[:, 1] < 60) & (pixels[:, 2] < 60)
    assert red.mean() < 0.3  # no joint dots drawn there any more


def test_bad_file_shows_the_api_error(page, tmp_path: Path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    page.set_input_files("#image-file", str(bad))
    page.wait_for_selector("#image-status.error", timeout=15_000)
    assert page.text_content("#image-status") == "Not a supported image (JPEG, PNG, WebP or BMP)."
    assert "not a supported image" in page.get_attribute("#image-status", "title")  # the server's words


def test_language_toggle(page):
    assert page.text_content("[data-tab='image']") == "Image"
    page.click("#lang")
    assert page.text_content("[data-tab='image']") == "图片"
    assert page.text_content("[data-tab='webcam']") == "摄像头"
    page.click("#lang")
    assert page.text_content("[data-tab='video']") == "Video"


def test_video_tab_uploads_and_plays_the_result(page, data_dir: Path):
    page.click("[data-tab='video']")
    page.set_input_files("#video-file", str(data_dir / "mediapipe/pose_squats.mp4"))
    page.wait_for_selector("#video-result:not([hidden])", timeout=180_000)
    assert page.evaluate("document.getElementById('upload-progress').value") == 1
    assert page.evaluate("document.getElementById('job-progress').value") == 1
    kinds = page.eval_on_selector_all("#video-downloads button", "bs => bs.map(b => b.dataset.kind)")
    assert set(kinds) == {"mp4", "jsonl", "csv", "angles", "bvh"}  # the default outputs, and BVH
    _wait_until(page, "document.getElementById('video-player').readyState >= 1", 30)
    duration = page.evaluate("document.getElementById('video-player').duration")
    assert duration == pytest.approx(13.0, abs=0.5)


def test_webcam_tab_receives_live_results(page):
    page.click("[data-tab='webcam']")
    page.select_option("#exercise", "squat")
    page.click("#cam-start")
    _wait_until(page, "Number(document.getElementById('cam-canvas').dataset.frames || 0) >= 8", 60)
    assert page.get_attribute("#cam-canvas", "data-people") == "1"
    assert float(page.text_content("#fps")) > 0.5
    assert page.is_visible("#reps-box")
    page.click("#cam-stop")
    assert page.is_enabled("#cam-start")
