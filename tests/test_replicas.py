"""Two `localpose serve` replicas on loopback, as behind a load balancer (docs/cluster.md).

Image requests are stateless: either replica gives the same answer, byte for byte. A video
job lives on the replica that took it: the other one does not know its id.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from server_support import start_server

API = "/api/v1"


@pytest.fixture(scope="module")
def replicas(model_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    running = []
    try:
        for name in ("a", "b"):
            running.append(start_server(model_cache, tmp_path_factory.mktemp(name), ["--workers", "1"]))
        yield running
    finally:
        for server in running:
            server.stop()


@pytest.mark.slow
def test_any_replica_answers_an_image_request_the_same(replicas, pose_jpg: Path, data_dir: Path) -> None:
    photos = [pose_jpg, *sorted((data_dir / "images" / "coco").glob("*.jpg"))[:2]]
    for photo in photos:
        bodies = []
        for k, server in enumerate(replicas * 2):  # a, b, a, b: round robin
            response = httpx.post(
                f"{server.url}{API}/pose", content=photo.read_bytes(), params={"format": "csv"}, timeout=60
            )
            assert response.status_code == 200, (k, response.text)
            bodies.append(response.content)
        assert all(body == bodies[0] for body in bodies), photo.name


@pytest.mark.slow
def test_a_video_job_lives_on_the_replica_that_took_it(replicas, data_dir: Path) -> None:
    first, other = replicas
    video = (data_dir / "mediapipe" / "pose_squats.mp4").read_bytes()
    created = httpx.post(f"{first.url}{API}/videos", content=video, params={"filename": "s.mp4"}, timeout=60)
    assert created.status_code == 202
    job_id = created.json()["id"]
    elsewhere = httpx.get(f"{other.url}{API}/videos/{job_id}", timeout=30)
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["code"] == "job_not_found"
    deadline, job = time.monotonic() + 180, created.json()
    while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = httpx.get(f"{first.url}{API}/videos/{job_id}", timeout=30).json()
    assert job["state"] == "done", job
    assert httpx.get(f"{other.url}{API}/videos/{job_id}", timeout=30).status_code == 404
    assert httpx.delete(f"{first.url}{API}/videos/{job_id}", timeout=30).status_code == 204
