"""The REST API over a real socket: a `localpose serve` process started by a fixture."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import websockets
from PIL import Image

from localpose.estimate import PoseEstimator
from localpose.export import read_csv
from localpose.models import ModelBundle
from localpose.video import read_frames
from server_support import RunningServer, start_server

pytestmark = pytest.mark.slow  # real `localpose serve` processes

API = "/api/v1"


@pytest.fixture(scope="module")
def server(model: ModelBundle, model_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    running = start_server(model_cache, tmp_path_factory.mktemp("server"), ["--workers", "2"])
    yield running
    running.stop()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (exit status -15).
    assert running.process.returncode in (0, -15)
    assert "Traceback" not in running.log.read_text(), running.log.read_text()[-3000:]


@pytest.fixture(scope="module")
def client(server: RunningServer):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def direct(pose_jpg: Path, model: ModelBundle):
    """The same photo estimated in this process: what the API must return."""
    with PoseEstimator(model=model) as estimator:
        return estimator.estimate(pose_jpg)


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    return body


def test_health_ready_and_info(client: httpx.Client, model: ModelBundle) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready == {
        "status": "ready",
        "workers": 2,
        "restarts": 0,
        "live": {"sessions": 4, "in_use": 0, "spare_ready": ready["live"]["spare_ready"], "restarts": 0},
    }
    info = client.get(f"{API}/info").json()
    assert info["model"]["sha256"] == model.sha256
    assert info["runtime"] == "litert"  # ai-edge-litert is a dependency, so "auto" picks it
    assert len(info["schema"]["landmarks"]) == 33 and len(info["schema"]["edges"]) == 35
    assert info["defaults"]["num_poses"] == 1 and info["auth"] is False
    assert "squat" in info["exercises"]
    assert client.get("/docs").status_code == 200
    assert "/api/v1/pose" in client.get("/openapi.json").json()["paths"]
    # the options and models, from their one declaration and the registry
    assert {o["name"] for o in info["options"]} >= {"num_poses", "min_detection_confidence", "multi_person"}
    assert "runtime" not in info["defaults"]  # the server's choice, not a request's
    models = {m["name"]: m for m in info["models"]}
    assert models["full"]["default"] and models["full"]["installed"] and models["lite"]["shipped"]
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for m in models.values() for f in m["files"])


def test_model_is_chosen_per_request(client: httpx.Client, pose_jpg: Path, direct) -> None:
    """model=lite runs the shipped lite network (its landmarks differ from full's by a few
    pixels); an unknown name is a 422 listing the installed ones."""
    lite = client.post(f"{API}/pose", params={"model": "lite"}, content=pose_jpg.read_bytes())
    assert lite.status_code == 200 and len(lite.json()["people"]) == 1
    got = np.array([[p["x"], p["y"]] for p in lite.json()["people"][0]["landmarks"]])
    assert 0.01 < np.abs(got - direct.xy[0]).max() < 30.0
    body = _error(
        client.post(f"{API}/pose", params={"model": "huge"}, content=pose_jpg.read_bytes()),
        422,
        "invalid_option",
    )
    assert "full" in body["error"]["message"] and "lite" in body["error"]["message"]


def test_pose_from_raw_body_and_multipart(client: httpx.Client, pose_jpg: Path, direct) -> None:
    raw = client.post(f"{API}/pose", content=pose_jpg.read_bytes())
    multipart = client.post(f"{API}/pose", files={"file": ("x.bin", pose_jpg.read_bytes(), "text/plain")})
    for response in (raw, multipart):
        assert response.status_code == 200
        doc = response.json()
        assert doc["schema"] == "localpose/pose-frame" and len(doc["people"]) == 1
        got = np.array([[p["x"], p["y"]] for p in doc["people"][0]["landmarks"]])
        np.testing.assert_allclose(got, direct.xy[0], atol=0.01)  # the CLI's schema, the same numbers


def test_csv_coco_and_angles(client: httpx.Client, pose_jpg: Path, tmp_path: Path) -> None:
    data = pose_jpg.read_bytes()
    csv_text = client.post(f"{API}/pose", params={"format": "csv"}, content=data)
    assert csv_text.headers["content-type"].startswith("text/csv")
    (tmp_path / "p.csv").write_text(csv_text.text)
    [(_, _, frame)] = read_csv(tmp_path / "p.csv")
    assert len(frame) == 1
    coco = client.post(f"{API}/pose", params={"format": "coco"}, content=data).json()
    assert len(coco) == 1 and len(coco[0]["keypoints"]) == 51
    angles = client.post(f"{API}/pose", params={"angles": "true"}, content=data).json()
    assert 0 < angles["people"][0]["angles"]["image"]["left_knee"] <= 180


def test_render_png_and_jpeg(client: httpx.Client, pose_jpg: Path, direct) -> None:
    for image_format, mime in (("png", "image/png"), ("jpeg", "image/jpeg")):
        response = client.post(
            f"{API}/pose/render", params={"image_format": image_format}, content=pose_jpg.read_bytes()
        )
        assert response.status_code == 200 and response.headers["content-type"] == mime
        image = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(int)
        assert image.shape[:2] == (667, 1000)
        x, y = np.round(direct.xy[0, 0]).astype(int)  # the nose: a red joint
        r, g, b = image[y, x]
        assert r > 180 and g < 90 and b < 90


def test_compare_endpoint(client: httpx.Client, pose_jpg: Path) -> None:
    data = pose_jpg.read_bytes()
    same = client.post(f"{API}/compare", files={"reference": ("a.jpg", data), "other": ("b.jpg", data)})
    assert same.status_code == 200 and same.json()["score"] == pytest.approx(100.0, abs=0.01)
    missing = client.post(f"{API}/compare", files={"reference": ("a.jpg", data)})
    _error(missing, 400, "missing_file")


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda d: b"", 400, "missing_image"),
        (lambda d: b"GIF89a not really", 415, "unsupported_media_type"),
        (lambda d: b"hello, this is text\n" * 10, 415, "unsupported_media_type"),
        (lambda d: d[: len(d) // 3], 422, "invalid_image"),
        (lambda d: d[:4] + bytes(2000), 422, "invalid_image"),
    ],
    ids=["empty", "gif", "text", "truncated-jpeg", "corrupt-jpeg"],
)
def test_bad_images_get_json_errors(
    client: httpx.Client, pose_jpg: Path, make, status: int, code: str
) -> None:
    _error(client.post(f"{API}/pose", content=make(pose_jpg.read_bytes())), status, code)
    assert client.post(f"{API}/pose", content=pose_jpg.read_bytes()).status_code == 200  # still serving


def test_decompression_bomb_and_oversize(client: httpx.Client, pose_jpg: Path) -> None:
    bomb = io.BytesIO()
    Image.new("L", (10000, 5000)).save(bomb, format="PNG")  # 50 MP in about 50 kB
    assert len(bomb.getvalue()) < 200_000
    _error(client.post(f"{API}/pose", content=bomb.getvalue()), 413, "image_too_large")
    _error(
        client.post(f"{API}/pose", content=b"\xff\xd8\xff" + bytes(51 * 1024 * 1024)), 413, "image_too_large"
    )
    assert client.post(f"{API}/pose", content=pose_jpg.read_bytes()).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"num_poses": 0},
        {"num_poses": 11},
        {"num_poses": "two"},
        {"min_detection_confidence": 1.5},
        {"format": "xml"},
    ],
)
def test_bad_parameters(client: httpx.Client, pose_jpg: Path, params: dict) -> None:
    _error(client.post(f"{API}/pose", params=params, content=pose_jpg.read_bytes()), 422, "invalid_option")


def test_unknown_routes_and_methods_are_json(client: httpx.Client) -> None:
    _error(client.get(f"{API}/nothing"), 404, "not_found")
    _error(client.get(f"{API}/pose"), 405, "method_not_allowed")
    _error(client.get(f"{API}/videos/abc"), 404, "job_not_found")


def test_images_never_touch_disk(client: httpx.Client, server: RunningServer, pose_jpg: Path) -> None:
    """The server's TMPDIR holds only the (empty) video jobs folder after image requests."""
    big = io.BytesIO()
    Image.open(pose_jpg).resize((3000, 2000)).save(big, format="PNG")  # over 1 MB: no spooling either
    assert len(big.getvalue()) > 1_500_000
    for content in (pose_jpg.read_bytes(), big.getvalue()):
        assert client.post(f"{API}/pose", files={"file": ("p", content)}).status_code == 200
    files = [p for p in server.tmpdir.rglob("*") if p.is_file()]
    assert files == []


def test_video_job_lifecycle(client: httpx.Client, data_dir: Path, server: RunningServer) -> None:
    video = (data_dir / "mediapipe/pose_squats.mp4").read_bytes()
    created = client.post(f"{API}/videos", params={"filename": "squats.mp4"}, content=video)
    assert created.status_code == 202
    job = created.json()
    assert created.headers["location"] == f"{API}/videos/{job['id']}"
    deadline = time.monotonic() + 180
    while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = client.get(f"{API}/videos/{job['id']}").json()
    assert job["state"] == "done", job
    assert job["summary"]["frames"] == 65 and job["summary"]["track_ids"] == [0]
    assert set(job["files"]) == {"mp4", "jsonl", "csv"}
    lines = client.get(job["files"]["jsonl"]).text.splitlines()
    assert len(lines) == 65 and json.loads(lines[0])["people"][0]["track_id"] == 0
    mp4 = client.get(job["files"]["mp4"])
    assert mp4.headers["content-type"] == "video/mp4" and mp4.content[4:8] == b"ftyp"
    assert client.delete(f"{API}/videos/{job['id']}").status_code == 204
    _error(client.get(f"{API}/videos/{job['id']}"), 404, "job_not_found")
    assert not [p for p in server.tmpdir.rglob("*") if p.is_file()]  # upload and results gone


def test_bad_video_upload(client: httpx.Client) -> None:
    _error(client.post(f"{API}/videos", content=b"not a video" * 100), 422, "invalid_video")
    _error(client.post(f"{API}/videos", content=b""), 400, "missing_video")
    _error(client.post(f"{API}/videos", params={"outputs": "gif"}, content=b"x"), 422, "invalid_option")


def _jpeg_frames(path: Path, count: int) -> list[bytes]:
    out = []
    for rgb, _ in read_frames(path, max_side=480):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
        out.append(buffer.getvalue())
        if len(out) == count:
            break
    return out


def test_live_websocket_tracks_and_counts(server: RunningServer, data_dir: Path) -> None:
    frames = _jpeg_frames(data_dir / "mediapipe/pose_squats.mp4", 12)

    async def session() -> list[dict]:
        url = server.url.replace("http", "ws") + f"{API}/live?exercise=squat"
        replies = []
        async with websockets.connect(url) as socket:
            await socket.send("not a frame")
            replies.append(json.loads(await socket.recv()))
            for frame in frames:
                await socket.send(frame)
                replies.append(json.loads(await socket.recv()))
        return replies

    replies = asyncio.run(session())
    assert replies[0]["error"]["code"] == "invalid_input"
    docs = replies[1:]
    assert [d["frame_index"] for d in docs] == list(range(12))
    assert all(len(d["people"]) == 1 and d["people"][0]["track_id"] == 0 for d in docs)
    assert all("reps" in d and d["reps"]["reps"] == 0 for d in docs)  # 12 frames at 5 fps: no full squat yet
    stamps = [d["timestamp_ms"] for d in docs]
    assert stamps == sorted(stamps)


def test_queue_full_gives_503_with_retry_after(model_cache: Path, tmp_path: Path, pose_jpg: Path) -> None:
    running = start_server(model_cache, tmp_path, ["--workers", "1", "--queue", "0"])
    try:
        data = pose_jpg.read_bytes()
        with httpx.Client(base_url=running.url, timeout=60) as c, ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: c.post(f"{API}/pose", content=data), range(8)))
            codes = sorted(r.status_code for r in responses)
            assert 200 in codes and 503 in codes and set(codes) <= {200, 503}
            busy = next(r for r in responses if r.status_code == 503)
            assert busy.headers["retry-after"] == "1" and busy.json()["error"]["code"] == "busy"
            assert c.post(f"{API}/pose", content=data).status_code == 200  # and it recovers
    finally:
        running.stop()


def test_api_key(model_cache: Path, tmp_path: Path, pose_jpg: Path) -> None:
    running = start_server(model_cache, tmp_path, ["--workers", "1", "--api-key", "s3cret"])
    try:
        with httpx.Client(base_url=running.url, timeout=60) as c:
            assert c.get("/healthz").status_code == 200  # health stays open for orchestrators
            _error(c.get(f"{API}/info"), 401, "unauthorized")
            _error(c.get(f"{API}/info", headers={"X-API-Key": "wrong"}), 401, "unauthorized")
            assert c.get(f"{API}/info", headers={"X-API-Key": "s3cret"}).json()["auth"] is True
            ok = c.post(
                f"{API}/pose", headers={"Authorization": "Bearer s3cret"}, content=pose_jpg.read_bytes()
            )
            assert ok.status_code == 200
            assert (
                "access-control-allow-origin"
                not in c.options(
                    f"{API}/pose",
                    headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
                ).headers
            )
            _error(c.get(f"{API}/info", params={"api_key": "s3cret"}), 400, "api_key_in_url")

        async def live(first: str | None) -> tuple[dict, int | None]:
            async with websockets.connect(running.url.replace("http", "ws") + f"{API}/live") as ws:
                if first is not None:
                    await ws.send(first)
                await ws.send(pose_jpg.read_bytes())
                reply = json.loads(await ws.recv())
                if "error" in reply:
                    await ws.wait_closed()
                return reply, ws.close_code

        reply, code = asyncio.run(live(None))
        assert (reply["error"]["code"], code) == ("unauthorized", 4401)
        reply, code = asyncio.run(live(json.dumps({"api_key": "wrong"})))
        assert (reply["error"]["code"], code) == ("unauthorized", 4401)
        reply, _ = asyncio.run(live(json.dumps({"api_key": "s3cret"})))  # browsers: the key as first message
        assert len(reply["people"]) == 1
    finally:
        running.stop()


@pytest.mark.mediapipe
def test_runtime_is_chosen_for_the_whole_server(model_cache: Path, tmp_path: Path, data_dir: Path) -> None:
    """`serve --runtime mediapipe` answers on MediaPipe Tasks, and says so; the pose agrees with
    the default (LiteRT) server's within a few pixels."""
    running = start_server(model_cache, tmp_path, ["--workers", "1", "--runtime", "mediapipe"])
    try:
        with httpx.Client(timeout=60) as c:
            assert c.get(f"{running.url}{API}/info").json()["runtime"] == "mediapipe"
            photo = (data_dir / "mediapipe/pose.jpg").read_bytes()
            reply = c.post(f"{running.url}{API}/pose", content=photo, headers={"Content-Type": "image/jpeg"})
        assert reply.status_code == 200
        people = reply.json()["people"]
        assert len(people) == 1
        knee = people[0]["landmarks"][25]
        assert knee["name"] == "left_knee"
        assert abs(knee["x"] - 611.4) < 5 and abs(knee["y"] - 549.1) < 5  # LiteRT: (611.4, 549.1)
    finally:
        running.stop()


def test_tls(model_cache: Path, tmp_path: Path) -> None:
    """With a certificate the service speaks HTTPS only (browsers need it for the webcam on a LAN)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (needed to make a test certificate)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*request, "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"],
        check=True,
        capture_output=True,
    )
    tls = ["--workers", "1", "--certfile", str(cert), "--keyfile", str(key)]
    running = start_server(model_cache, tmp_path, tls)
    try:
        assert running.url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=trust, timeout=30) as c:
            info = c.get(running.url.replace("127.0.0.1", "localhost") + f"{API}/info")
            assert info.status_code == 200 and info.json()["name"] == "localpose"
        with pytest.raises(httpx.TransportError):
            httpx.get(running.url.replace("https://", "http://") + "/healthz", timeout=5)
    finally:
        running.stop()


def test_security_headers_on_every_response(client: httpx.Client) -> None:
    for response in (
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/nope"),
        client.head("/healthz"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in client.get("/").headers["content-security-policy"]
    assert client.head("/healthz").status_code == 200
    _error(client.get(f"{API}/info", params={"api_key": "x"}), 400, "api_key_in_url")
    _error(client.get(f"{API}/info", headers={"Host": "rebind.example"}), 400, "invalid_host")
