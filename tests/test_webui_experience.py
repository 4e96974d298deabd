"""The WebUI as a new user meets it (issue 15): defects that broke at once, and the analysis views.

Debian's chromium through Playwright against a real `localpose serve`; every request that
would leave 127.0.0.1 is refused by the browser context, as on a machine without internet.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from server_support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CROWD = "images/coco/000000197388.jpg"
"""Five annotated people with more than five keypoints each."""
TABS = ("image", "video", "webcam", "compare")


def wait_until(page, expression: str, timeout: float = 30_000) -> None:
    """Poll a JavaScript expression (or function) from the test until it is truthy, `timeout` ms.

    Playwright's wait_for_function polls with eval inside the page, which the server's CSP
    (script-src 'self') rightly forbids; page.evaluate runs through the browser's protocol."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


class Page:
    """A page plus what it reported: uncaught errors, console errors/warnings, outside requests."""

    def __init__(self, chromium, webui_server: RunningServer, width: int = 1366, height: int = 900) -> None:
        self.context = chromium.new_context(
            accept_downloads=True, locale="en-US", viewport={"width": width, "height": height}
        )
        self.outside: list[str] = []
        self.context.route(
            re.compile(r"^(?!https?://127\.0\.0\.1[:/]|wss?://127\.0\.0\.1[:/]).*"), self._refuse
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console", lambda m: self.console.append(m.text) if m.type in ("error", "warning") else None
        )
        self.page.goto(webui_server.url + "/")
        wait_until(self.page, "document.getElementById('version').textContent !== ''")  # info loaded

    def _refuse(self, route) -> None:
        # ReDoc's bundle always asks for its maker's logo image (hidden when it fails to load);
        # that is the one outside request we know of and let pass unrecorded.
        if not route.request.url.endswith("/redoc/logo-mini.svg"):
            self.outside.append(route.request.url)
        route.abort()

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def ui(chromium, webui_server: RunningServer):
    page = Page(chromium, webui_server)
    yield page
    page.close()
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside


def _wait_people(page, count: int | None = None, timeout: float = 60_000) -> None:
    selector = "#image-canvas[data-people]" if count is None else f"#image-canvas[data-people='{count}']"
    page.wait_for_selector(selector, timeout=timeout)


# --- defects 1-10 ------------------------------------------------------------------------


def test_docs_and_redoc_render_offline_and_there_is_a_favicon(ui: Page, webui_server: RunningServer):
    page = ui.page
    page.goto(webui_server.url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "localpose" in page.text_content(".swagger-ui .info .title")
    assert page.locator(".opblock-summary-path", has_text="/api/v1/pose").count() >= 1
    page.goto(webui_server.url + "/redoc")
    page.wait_for_selector("redoc h1", timeout=30_000)
    assert "localpose" in page.text_content("redoc h1")
    for path in ("/favicon.ico", "/favicon.png"):
        response = httpx.get(webui_server.url + path, timeout=10)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(response.content)).size == (32, 32)
    page.goto(webui_server.url + "/")
    assert page.get_attribute("link[rel=icon]", "href") == "/favicon.png"


def test_result_panel_is_hidden_until_there_is_a_result(ui: Page):
    page = ui.page
    assert not page.is_visible("#image-result")
    for button in ("#dl-json", "#dl-csv", "#dl-png"):
        assert not page.is_visible(button)
    assert page.locator("#landmarks").is_hidden()


def test_a_late_answer_does_not_overwrite_a_newer_photo(ui: Page, data_dir: Path, pose_jpg: Path):
    page = ui.page
    page.fill("#num-poses", "5")
    page.set_input_files("#image-file", str(data_dir / CROWD))
    page.set_input_files("#image-file", str(pose_jpg))  # within the first one's search
    _wait_people(page)
    page.wait_for_timeout(4000)  # long enough for the crowd photo's answer to come back
    assert page.get_attribute("#image-canvas", "data-people") == "1"
    assert page.locator("#landmarks tbody tr").count() == 33
    assert page.text_content("#image-status").startswith("1 person found")
    assert page.get_attribute("#image-canvas", "data-name") == "pose.jpg"


def test_people_left_out_are_reported(ui: Page, data_dir: Path):
    """People = 2 on a photo of five: two drawn, and the status says how many more were seen."""
    page = ui.page
    page.fill("#num-poses", "2")
    page.set_input_files("#image-file", str(data_dir / CROWD))
    _wait_people(page, 2)
    status = page.text_content("#image-status")
    assert status.startswith("2 people found") and "more seen: raise People" in status, status
    page.fill("#num-poses", "1")


def test_a_failed_upload_clears_the_previous_result(ui: Page, pose_jpg: Path, tmp_path: Path):
    page = ui.page
    page.set_input_files("#image-file", str(pose_jpg))
    _wait_people(page, 1)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    page.set_input_files("#image-file", str(bad))
    page.wait_for_selector("#image-status.error", timeout=15_000)
    assert not page.is_visible("#image-result")
    assert not page.is_visible("#dl-json")
    assert page.text_content("#image-status") == "Not a supported image (JPEG, PNG, WebP or BMP)."


def test_upload_by_keyboard(ui: Page):
    page = ui.page
    for _ in range(25):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "image-file":
            break
    assert page.evaluate("document.activeElement.id") == "image-file"
    chooser = None
    for _ in range(3):  # on a loaded machine an Enter can land before the page has settled
        try:
            with page.expect_file_chooser(timeout=8_000) as opened:
                page.keyboard.press("Enter")
            chooser = opened.value
            break
        except PlaywrightTimeoutError:
            page.focus("#image-file")
    assert chooser is not None and chooser.is_multiple()


def test_video_errors_cancel_and_one_job_at_a_time(
    ui: Page, data_dir: Path, tmp_path: Path, webui_server: RunningServer
):
    page = ui.page
    page.click("[data-tab='video']")
    page.evaluate(
        """() => { window.statuses = [];
        const status = document.getElementById('video-status');
        new MutationObserver(() => window.statuses.push(status.textContent))
          .observe(status, {childList: true, characterData: true, subtree: true}); }"""
    )
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    page.set_input_files("#video-file", str(broken))
    page.wait_for_selector("#video-status.error", timeout=30_000)
    message = page.text_content("#video-status") + (page.get_attribute("#video-status", "title") or "")
    assert "/tmp" not in message and "Errno" not in message and str(webui_server.tmpdir) not in message
    assert page.text_content("#video-status") == "The video could not be read (damaged, or not a video)."
    # Cancel: the job goes, the page says so.
    squats = data_dir / "mediapipe" / "pose_squats.mp4"
    page.set_input_files("#video-file", str(squats))
    wait_until(page, "window.localpose.state.video.jobId !== null", timeout=30_000)
    job_id = page.evaluate("window.localpose.state.video.jobId")
    page.click("#video-cancel")
    wait_until(page, "document.getElementById('video-status').textContent === 'Cancelled'")
    assert httpx.get(f"{webui_server.url}/api/v1/videos/{job_id}", timeout=10).status_code == 404
    # Two uploads in a row: the second one's result, and the first job is deleted.
    renamed = tmp_path / "second.mp4"
    shutil.copy(squats, renamed)
    page.set_input_files("#video-file", str(squats))
    wait_until(page, "window.localpose.state.video.jobId !== null", timeout=30_000)
    first = page.evaluate("window.localpose.state.video.jobId")
    page.set_input_files("#video-file", str(renamed))
    page.wait_for_selector("#video-result:not([hidden])", timeout=180_000)
    assert page.text_content("#video-summary [data-field='sumFile']") == "second.mp4"
    assert httpx.get(f"{webui_server.url}/api/v1/videos/{first}", timeout=10).status_code == 404
    statuses = page.evaluate("window.statuses")
    stuck = [s for s in statuses if re.search(r"(?<![\d.])0(\.0)? fps|ETA 0 s|about 0 s", s)]
    assert stuck == [], statuses
    assert page.evaluate("document.getElementById('job-progress').value") == 1


def test_webcam_before_start_and_after_stop(ui: Page):
    page = ui.page
    page.click("[data-tab='webcam']")
    assert not page.is_visible("#cam-canvas")  # no empty black canvas
    assert page.is_visible("#cam-placeholder")
    page.click("#cam-start")
    wait_until(page, "Number(document.getElementById('cam-canvas').dataset.frames || 0) >= 6", timeout=60_000)
    fps = float(page.text_content("#fps"))
    assert fps > 0.5
    page.click("#cam-stop")
    page.wait_for_timeout(500)
    assert page.text_content("#fps") == "–"
    assert not page.is_visible("#cam-canvas") and page.is_visible("#cam-placeholder")
    assert not [m for m in ui.console if "CLOSING or CLOSED" in m], ui.console


@pytest.mark.parametrize("width", [1366, 390])
def test_landmark_table_is_not_cut_off(chromium, webui_server: RunningServer, pose_jpg: Path, width: int):
    ui = Page(chromium, webui_server, width=width, height=900)
    page = ui.page
    page.set_input_files("#image-file", str(pose_jpg))
    _wait_people(page, 1)
    box = page.evaluate(
        """() => {
            const wrap = document.querySelector('#landmarks').parentElement.getBoundingClientRect();
            const head = [...document.querySelectorAll('#landmarks th')]
                .map((th) => th.getBoundingClientRect());
            return {wrapRight: wrap.right, lastRight: head[head.length - 1].right,
                    page: document.documentElement.scrollWidth, view: window.innerWidth};
        }"""
    )
    ui.close()
    assert box["lastRight"] <= box["wrapRight"] + 0.5, box
    assert box["page"] <= box["view"], box  # nothing pushes the page sideways


def test_single_person_live_bones_are_white_and_labels_outlined(ui: Page):
    page = ui.page
    page.click("[data-tab='webcam']")
    page.click("#cam-start")
    wait_until(
        page,
        """() => { const s = window.localpose.state.camera;
                   return s && s.last && s.last.people.length === 1 &&
                          s.last.people[0].landmarks.filter((p) => p.visibility > 0.5).length > 20; }""",
        timeout=60_000,
    )
    # Sample along the drawn bones of the last frame, straight from the canvas.
    colours = page.evaluate(
        """() => {
            const cam = window.localpose.state.camera;
            const lm = cam.last.people[0].landmarks;
            const ctx = document.getElementById('cam-canvas').getContext('2d');
            const out = [];
            for (const [a, b] of window.localpose.state.info.schema.edges) {
                if (lm[a].visibility < 0.5 || lm[b].visibility < 0.5) continue;
                const x = Math.round(0.5 * (lm[a].x + lm[b].x)), y = Math.round(0.5 * (lm[a].y + lm[b].y));
                out.push(Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
            }
            return out;
        }"""
    )
    page.click("#cam-stop")
    pixels = np.array(colours)
    assert len(pixels) >= 15
    white = (pixels > 200).all(axis=1)
    cyan = (pixels[:, 0] < 80) & (pixels[:, 2] > 200)
    assert white.mean() >= 0.6 and not cyan.any(), pixels


def test_chinese_mode_translates_links_units_exercises_and_errors(ui: Page, tmp_path: Path, pose_jpg: Path):
    page = ui.page
    page.click("#lang")
    assert page.text_content("footer a") == "API 文档"
    assert page.text_content("[data-i18n='fps']") == "帧/秒"
    options = page.eval_on_selector_all("#exercise option", "os => os.map(o => o.textContent)")
    assert "开合跳" in options and not any("_" in o for o in options)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    page.set_input_files("#image-file", str(bad))
    page.wait_for_selector("#image-status.error", timeout=15_000)
    status = page.text_content("#image-status")
    assert "不是支持的图片" in status and not re.search(
        r"[A-Za-z]{4,}", status.replace("JPEG", "").replace("PNG", "").replace("WebP", "")
    ), status
    page.click("[data-tab='video']")
    assert page.text_content("label[for='job-progress']") == "处理"
    page.click("[data-tab='image']")
    page.set_input_files("#image-file", str(pose_jpg))
    _wait_people(page, 1)
    names = page.eval_on_selector_all("#landmarks tbody td:nth-child(2)", "cs => cs.map(c => c.textContent)")
    assert names[0] == "鼻子" and names[32] == "右脚尖" and not any("_" in n for n in names), names
    assert page.text_content("#angles tbody tr td") == "左踝"


def test_tabs_have_roles_and_arrow_keys(ui: Page):
    page = ui.page
    page.focus("[data-tab='image']")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.tab") == "video"
    assert page.get_attribute("[data-tab='video']", "aria-selected") == "true"
    assert page.is_visible("#tab-video") and not page.is_visible("#tab-image")
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.dataset.tab") == "compare"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.tab") == "image"
    for tab in TABS:
        panel = page.get_attribute(f"[data-tab='{tab}']", "aria-controls")
        assert page.get_attribute(f"#{panel}", "role") == "tabpanel"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_serious_accessibility_violations_on_any_tab(ui: Page, pose_jpg: Path, lang: str):
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    page = ui.page
    if lang == "zh":
        page.click("#lang")
    page.set_input_files("#image-file", str(pose_jpg))
    _wait_people(page, 1)
    problems = {}
    for tab in TABS:
        page.click(f"[data-tab='{tab}']")
        results = axe.run(page).response
        serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
        if serious:
            problems[tab] = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in serious]
    assert problems == {}, problems


# --- features -----------------------------------------------------------------------------


def test_angle_table_matches_the_api(ui: Page, webui_server: RunningServer, pose_jpg: Path):
    page = ui.page
    page.set_input_files("#image-file", str(pose_jpg))
    _wait_people(page, 1)
    api = httpx.post(
        f"{webui_server.url}/api/v1/pose?angles=true", content=pose_jpg.read_bytes(), timeout=60
    ).json()
    expected = api["people"][0]["angles"]
    rows = page.eval_on_selector_all(
        "#angles tbody tr", "rs => rs.map(r => [r.dataset.angle, ...[...r.cells].map(c => c.textContent)])"
    )
    assert len(rows) == len(expected["image"]) >= 12
    by_name = {name: (image, world) for name, _label, image, world in rows}
    assert by_name["left_knee"][0] == f"{expected['image']['left_knee']:.1f}"
    assert by_name["left_knee"][1] == f"{expected['world']['left_knee']:.1f}"


def test_people_list_and_selection_highlight(ui: Page, data_dir: Path):
    page = ui.page
    page.fill("#num-poses", "5")
    page.press("#num-poses", "Tab")
    page.set_input_files("#image-file", str(data_dir / CROWD))
    _wait_people(page)
    found = int(page.get_attribute("#image-canvas", "data-people"))
    assert found >= 3  # five annotated people; the search finds most of them
    assert page.locator("#people button").count() == found
    label = page.get_attribute("#people button >> nth=1", "aria-label")
    assert re.match(r"Person \d+, score 0\.\d\d, box \d+, \d+, \d+, \d+", label)
    before = page.evaluate("document.getElementById('image-canvas').toDataURL()")
    page.click("#people button >> nth=1")
    assert page.get_attribute("#people button >> nth=1", "aria-pressed") == "true"
    assert page.locator("#landmarks tbody tr").count() == 33
    assert page.locator("#landmarks tbody tr.selected[data-person='1']").count() == 33
    assert page.evaluate("document.getElementById('image-canvas').toDataURL()") != before
    page.click("#people button >> nth=1")  # again: everyone
    assert page.locator("#landmarks tbody tr").count() == 33 * found


def test_paste_an_image_and_a_gallery_of_several(ui: Page, pose_jpg: Path, data_dir: Path):
    page = ui.page
    encoded = base64.b64encode(pose_jpg.read_bytes()).decode()
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], 'pasted.jpg', {type: 'image/jpeg'}));
            document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
        }""",
        encoded,
    )
    _wait_people(page, 1)
    assert page.get_attribute("#image-canvas", "data-name") == "pasted.jpg"
    second = data_dir / "images" / "coco" / "000000000785.jpg"
    page.set_input_files("#image-file", [str(pose_jpg), str(second)])
    wait_until(
        page, "document.querySelectorAll('#gallery button:not([disabled])').length === 2", timeout=60_000
    )
    assert page.get_attribute("#image-canvas", "data-name") == "pose.jpg"
    page.click("#gallery button >> nth=1")
    assert page.get_attribute("#image-canvas", "data-name") == "000000000785.jpg"
    assert page.get_attribute("#gallery button >> nth=1", "aria-pressed") == "true"


def test_video_reps_curves_summary_and_every_output(ui: Page, data_dir: Path, tmp_path: Path):
    page = ui.page
    page.click("[data-tab='video']")
    page.select_option("#video-exercise", "squat")
    page.select_option("#smoothing", "gaussian")
    for kind in ("coco", "openpose"):
        page.check(f"#video-outputs input[value='{kind}']")
    page.set_input_files("#video-file", str(data_dir / "mediapipe" / "pose_squats.mp4"))
    page.wait_for_selector("#video-result:not([hidden])", timeout=180_000)
    assert page.text_content("#video-summary [data-field='sumFrames']") == "65"
    assert page.text_content("#video-summary [data-field='sumTracks']") == "#0"
    kinds = page.eval_on_selector_all("#video-downloads button", "bs => bs.map(b => b.dataset.kind)")
    assert set(kinds) >= {"mp4", "jsonl", "csv", "angles", "coco", "openpose", "bvh"}
    # Repetitions: the clip holds two full squats and one unfinished at the end (README).
    assert page.locator("#video-reps tbody tr[data-complete='true']").count() >= 2
    assert "squat" in page.text_content("#video-reps-summary")
    # Angle curves drawn (four by default), with a text alternative giving their ranges.
    assert page.get_attribute("#angle-chart", "data-curves") == "4"
    label = page.get_attribute("#angle-chart", "aria-label")
    low, high = map(int, re.search(r"left knee (\d+)–(\d+)°", label).groups())
    assert low < 40 and high > 80  # standing to a deep squat
    with page.expect_download() as download:
        page.click("#video-downloads button[data-kind='bvh']")
    saved = tmp_path / "motion.bvh"
    download.value.save_as(saved)
    assert saved.read_text().startswith("HIERARCHY")


def test_compare_two_photos(ui: Page, pose_jpg: Path, data_dir: Path):
    page = ui.page
    page.click("[data-tab='compare']")
    page.set_input_files("#compare-reference", str(pose_jpg))
    page.set_input_files("#compare-other", str(pose_jpg))
    page.click("#compare-run")
    page.wait_for_selector("#compare-result:not([hidden])", timeout=60_000)
    assert float(page.text_content("#compare-score")) >= 99.0  # the same photo
    page.set_input_files("#compare-other", str(data_dir / "images" / "coco" / "000000000785.jpg"))
    page.click("#compare-run")
    wait_until(
        page,
        "!document.getElementById('compare-result').hidden"
        " && Number(document.getElementById('compare-score').textContent) < 99",
        timeout=60_000,
    )
    score = float(page.text_content("#compare-score"))
    assert 0.0 <= score < 99.0
    assert page.locator("#compare-worst tbody tr").count() >= 1


def test_model_choice_is_hidden_without_a_registry(ui: Page, webui_server: RunningServer):
    info = httpx.get(f"{webui_server.url}/api/v1/info", timeout=10).json()
    shown = ui.page.is_visible("#model")
    assert shown == (len(info.get("models", [])) > 1)


def test_model_choice_from_the_registry_is_sent_with_each_request(
    chromium, webui_server: RunningServer, pose_jpg: Path
):
    """The models issue's contract: info lists `models`, estimation routes take `?model=NAME`."""
    info = httpx.get(f"{webui_server.url}/api/v1/info", timeout=10).json()
    info["models"] = [
        {
            "name": "full",
            "family": "blazepose",
            "skeleton": "blazepose33",
            "installed": True,
            "default": True,
        },
        {
            "name": "lite",
            "family": "blazepose",
            "skeleton": "blazepose33",
            "installed": True,
            "default": False,
        },
        {
            "name": "heavy",
            "family": "blazepose",
            "skeleton": "blazepose33",
            "installed": False,
            "default": False,
        },
    ]
    context = chromium.new_context(locale="en-US")
    context.route("**/api/v1/info", lambda route: route.fulfill(json=info))
    page = context.new_page()
    try:
        page.goto(webui_server.url + "/")
        page.wait_for_selector("#model-box:not([hidden])")
        assert page.input_value("#model") == "full"
        assert page.is_disabled("#model option[value='heavy']")  # not installed
        page.select_option("#model", "lite")
        with page.expect_request(re.compile(r"/api/v1/pose\?")) as request:
            page.set_input_files("#image-file", str(pose_jpg))
        assert "model=lite" in request.value.url
    finally:
        context.close()


def test_webcam_says_each_repetitions_form_in_words(ui: Page):
    page = ui.page
    page.click("[data-tab='webcam']")
    page.select_option("#exercise", "squat")
    page.click("#cam-start")
    page.wait_for_selector("#form-feedback li", timeout=90_000)  # the clip squats every few seconds
    item = page.text_content("#form-feedback li")
    page.click("#cam-stop")
    assert re.match(r"Rep \d+: (full|too shallow|lost|unfinished|too long)", item), item
    assert "_" not in item  # flags in words, not identifiers


def test_analysis_routes_answer_json_errors(webui_server: RunningServer):
    missing = httpx.get(f"{webui_server.url}/api/v1/videos/nope/angles", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"
    bad = httpx.get(f"{webui_server.url}/api/v1/videos/nope/reps?exercise=yoga", timeout=10)
    assert bad.status_code == 422 and "unknown exercise" in bad.json()["error"]["message"]
    assert json.loads(httpx.get(f"{webui_server.url}/api/v1/info", timeout=10).text)["name"] == "localpose"


STRICT_CSP = "default-src 'self'; img-src 'self' data:"
"""The policy the WebUI must live under (issue 13 adds security headers); data: for canvas PNGs."""


def test_the_page_works_under_a_strict_content_security_policy(
    chromium, webui_server: RunningServer, pose_jpg: Path, data_dir: Path
):
    context = chromium.new_context(locale="en-US")

    def with_policy(route) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": STRICT_CSP}
        route.fulfill(response=response, headers=headers)

    context.route(re.compile(r"^http://127\.0\.0\.1:\d+/(\?.*)?$"), with_policy)
    context.add_init_script(
        "window.cspViolations = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        response = page.goto(webui_server.url + "/")
        assert response.headers["content-security-policy"] == STRICT_CSP
        wait_until(page, "() => window.localpose && window.localpose.state.info !== null")
        page.set_input_files("#image-file", [str(pose_jpg), str(data_dir / "images/coco/000000000785.jpg")])
        wait_until(
            page,
            "() => document.querySelectorAll('#gallery button:not([disabled])').length === 2",
            timeout=60_000,
        )
        page.click("[data-tab='video']")
        page.set_input_files("#video-file", str(data_dir / "mediapipe" / "pose_squats.mp4"))
        page.wait_for_selector("#video-result:not([hidden])", timeout=180_000)
        wait_until(page, "() => document.getElementById('video-player').readyState >= 1", timeout=30_000)
        page.click("[data-tab='webcam']")
        page.click("#cam-start")
        wait_until(
            page,
            "() => Number(document.getElementById('cam-canvas').dataset.frames || 0) >= 3",
            timeout=60_000,
        )
        page.click("#cam-stop")
        violations = page.evaluate("window.cspViolations")
    finally:
        context.close()
    assert violations == [] and errors == [], (violations, errors)
