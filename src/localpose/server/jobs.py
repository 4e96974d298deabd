"""Video jobs: the only uploads that touch disk, each in its own folder, deleted on TTL or DELETE.

A job runs `localpose.video.process_video` on a background thread (the heavy work happens
in the video pipeline's own worker processes) and exposes its state and progress.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localpose.errors import LocalposeError
from localpose.models import ModelBundle
from localpose.video import VideoOptions, VideoProgress, process_video

__all__ = ["JobNotFoundError", "JobStore", "StorageFullError", "VideoJob"]


class JobNotFoundError(LocalposeError):
    code = "job_not_found"


class StorageFullError(LocalposeError):
    code = "storage_full"


@dataclass
class VideoJob:
    """One uploaded video and what became of it."""

    id: str
    folder: Path
    filename: str
    created: float = field(default_factory=time.time)
    state: str = "uploading"  # uploading, queued, running, done, failed, cancelled
    progress: VideoProgress | None = None
    error: dict[str, str] | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def upload_path(self) -> Path:
        return self.folder / "input" / self.filename

    def to_dict(self, url_prefix: str) -> dict[str, Any]:
        p = self.progress
        return {
            "id": self.id,
            "state": self.state,
            "filename": self.filename,
            "created": self.created,
            "progress": None
            if p is None
            else {
                "stage": p.stage,
                "frames_done": p.frames_done,
                "frames_total": p.frames_total,
                "fraction": (p.frames_done / p.frames_total) if p.frames_total else None,
                "fps": round(p.fps, 2),
                "eta_s": None if p.eta_s is None else round(p.eta_s, 1),
            },
            "error": self.error,
            "summary": self.summary,
            "files": {kind: f"{url_prefix}/{self.id}/files/{kind}" for kind in self.outputs},
        }


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class JobStore:
    """All video jobs of one server: creation, running, lookup, expiry, size cap."""

    def __init__(
        self,
        root: Path | None,
        model: ModelBundle,
        ttl_s: float,
        max_bytes: int,
    ) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="localpose-jobs-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model, self.ttl_s, self.max_bytes = model, ttl_s, max_bytes
        self._jobs: dict[str, VideoJob] = {}
        self._lock = threading.Lock()
        self._runner = threading.Semaphore(1)  # one video at a time; it uses all its workers

    def create(self, filename: str) -> VideoJob:
        safe = Path(filename).name or "upload.mp4"
        job = VideoJob(uuid.uuid4().hex, self.root / uuid.uuid4().hex, safe)
        job.upload_path.parent.mkdir(parents=True)
        with self._lock:
            self._jobs[job.id] = job
        return job

    def room_left(self) -> int:
        """Bytes that may still be stored before the cap."""
        return self.max_bytes - _folder_size(self.root)

    def get(self, job_id: str) -> VideoJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(f"no video job {job_id!r} (finished jobs expire after {self.ttl_s:g} s)")
        return job

    def start(self, job: VideoJob, options: VideoOptions) -> None:
        job.state = "queued"
        threading.Thread(target=self._run, args=(job, options), name=f"job-{job.id[:8]}", daemon=True).start()

    def _run(self, job: VideoJob, options: VideoOptions) -> None:
        with self._runner:
            if job.cancel.is_set():
                return
            job.state = "running"

            def progress(p: VideoProgress) -> None:
                job.progress = p

            try:
                report = process_video(
                    job.upload_path, job.folder / "out", options, self.model, progress, job.cancel
                )
            except LocalposeError as exc:
                job.state, job.error = "failed", {"code": exc.code, "message": str(exc)}
                return
            except Exception as exc:  # a job must never take the server down; report it
                job.state, job.error = "failed", {"code": "internal_error", "message": repr(exc)}
                return
            if report.cancelled:
                job.state = "cancelled"
                return
            job.outputs = report.outputs
            job.summary = {
                "frames": report.frames,
                "frames_expected": report.frames_expected,
                "track_ids": report.track_ids,
                "decode_errors": report.errors,
                "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
            }
            job.state = "done"

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        job.cancel.set()
        with self._lock:
            self._jobs.pop(job_id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def expire(self, now: float | None = None) -> int:
        """Delete jobs older than the TTL; returns how many went."""
        now = time.time() if now is None else now
        with self._lock:
            old = [j.id for j in self._jobs.values() if now - j.created > self.ttl_s]
        for job_id in old:
            self.delete(job_id)
        return len(old)

    def close(self) -> None:
        for job_id in list(self._jobs):
            self.delete(job_id)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
