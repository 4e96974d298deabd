"""Video jobs: the only uploads that touch disk, each in its own folder, deleted on TTL or DELETE.

A job runs `localpose.video.process_video` on a background thread (the heavy work happens
in the video pipeline's own worker processes) and exposes its state and progress.

The storage cap holds under concurrency: every job reserves its bytes under one lock before
anything is written (the upload's declared or largest size, then, once the video is probed,
the upload plus a generous estimate of its results), and a job whose files outgrow their
reservation is stopped and its results deleted.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localpose.errors import JobNotFoundError, LocalposeError, StorageFullError
from localpose.models import ModelBundle
from localpose.video import VideoInfo, VideoOptions, VideoProgress, process_video

__all__ = ["JobStore", "VideoJob", "result_budget", "safe_filename"]

_log = logging.getLogger("localpose.server")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100
_CHECK_EVERY_S = 0.5  # how often a running job's folder is measured against its reservation
_CLOSE_TIMEOUT_S = 10.0
# Result bytes per frame and person, about twice what the pipeline writes (measured on the
# 1280x720 and 1768x994 test videos: JSON Lines 6.7 KB, CSV 4.4 KB, raw 5.9 KB per frame).
_BYTES_PER_PERSON_FRAME = {"jsonl": 12_000, "raw": 12_000, "csv": 9_000, "openpose": 6_000}
_BYTES_PER_PERSON_FRAME_SMALL = 2_000  # coco, angles
_MP4_BYTES_PER_PIXEL = 0.05  # x264 ultrafast wrote 0.015-0.024 bytes per pixel and frame


def safe_filename(name: str) -> str:
    """A file name that is safe to create: its last path component in letters, digits, '.', '_'
    and '-', no leading dot, at most 100 characters (the extension kept); "upload.mp4" if empty."""
    base = _UNSAFE.sub("_", re.split(r"[/\\\x00]", name)[-1]).lstrip(".")
    if len(base) > _MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:10] if dot and stem else ""
        base = base[: _MAX_NAME - len(ext) - 1] + "." + ext if ext else base[:_MAX_NAME]
    return base or "upload.mp4"


def result_budget(info: VideoInfo, options: VideoOptions) -> int:
    """Bytes reserved for a job's result files: a generous estimate from the frame count."""
    frames, people = max(info.frame_count, 1), options.estimator.num_poses
    total = 0
    for kind in options.outputs:
        if kind == "mp4":
            total += int(_MP4_BYTES_PER_PIXEL * info.width * info.height * frames)
        else:
            per = _BYTES_PER_PERSON_FRAME.get(kind, _BYTES_PER_PERSON_FRAME_SMALL)
            total += per * frames * people
    return total + 64 * 1024


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
    reserved: int = 0
    """Bytes of the storage cap this job holds (its files never exceed it for long)."""
    over_budget: bool = False
    thread: threading.Thread | None = None

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


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:  # written and removed meanwhile (the pipeline's temporary segments)
        return 0


def _folder_size(folder: Path) -> int:
    """Bytes of the files under `folder` now (0 when it is gone)."""
    try:
        return sum(_file_size(p) for p in folder.rglob("*"))
    except OSError:
        return 0


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

    def _used(self) -> int:
        return sum(job.reserved for job in self._jobs.values())

    def create(self, filename: str, reserve: int) -> VideoJob:
        """A new job holding `reserve` bytes of the cap (StorageFullError if they are not free)."""
        job = VideoJob(uuid.uuid4().hex, self.root / uuid.uuid4().hex, safe_filename(filename))
        with self._lock:
            if self._used() + reserve > self.max_bytes:
                raise StorageFullError(
                    "video job storage is full; delete finished jobs or wait for them to expire"
                )
            job.reserved = reserve
            self._jobs[job.id] = job
        job.upload_path.parent.mkdir(parents=True)
        return job

    def resize(self, job: VideoJob, reserve: int) -> None:
        """Change the bytes `job` holds (StorageFullError if a larger reservation does not fit)."""
        with self._lock:
            if reserve > job.reserved and self._used() - job.reserved + reserve > self.max_bytes:
                raise StorageFullError(
                    f"the results of this video need about {reserve} bytes and the job storage "
                    "has not that much room; delete finished jobs or send a shorter video"
                )
            job.reserved = reserve

    def room_left(self) -> int:
        """Bytes of the cap no job holds."""
        with self._lock:
            return self.max_bytes - self._used()

    def stored_bytes(self) -> int:
        """Bytes on disk in all job folders now."""
        return _folder_size(self.root)

    def get(self, job_id: str) -> VideoJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(f"no video job {job_id!r} (finished jobs expire after {self.ttl_s:g} s)")
        return job

    def start(self, job: VideoJob, options: VideoOptions) -> None:
        job.state = "queued"
        job.thread = threading.Thread(
            target=self._run, args=(job, options), name=f"job-{job.id[:8]}", daemon=True
        )
        job.thread.start()

    def _watch(self, job: VideoJob) -> Any:
        """A progress callback that also stops the job once its files outgrow its reservation."""
        checked = [time.monotonic()]

        def progress(p: VideoProgress) -> None:
            job.progress = p
            now = time.monotonic()
            if now - checked[0] >= _CHECK_EVERY_S:
                checked[0] = now
                if _folder_size(job.folder) > job.reserved:
                    job.over_budget = True
                    job.cancel.set()

        return progress

    def _run(self, job: VideoJob, options: VideoOptions) -> None:
        with self._runner:
            if job.cancel.is_set():
                return
            job.state = "running"
            try:
                self._process(job, options)
            finally:
                with self._lock:  # what the job now holds is what it stores
                    job.reserved = _folder_size(job.folder)

    def _fail(self, job: VideoJob, code: str, message: str) -> None:
        job.state, job.error = "failed", {"code": code, "message": message}

    def _process(self, job: VideoJob, options: VideoOptions) -> None:
        out = job.folder / "out"
        try:
            report = process_video(job.upload_path, out, options, self.model, self._watch(job), job.cancel)
        except LocalposeError as exc:
            message = str(exc).replace(str(job.upload_path), job.filename).replace(str(job.folder), "")
            self._fail(job, exc.code, message)
            return
        except BrokenProcessPool:
            self._fail(job, "worker_lost", "a video worker process stopped (out of memory?); try again")
            return
        except Exception:  # a job must never take the server down; report it without internals
            _log.exception("video job %s failed", job.id)
            self._fail(job, "internal_error", "the video job failed unexpectedly (see the server log)")
            return
        if job.over_budget or _folder_size(job.folder) > job.reserved:
            shutil.rmtree(out, ignore_errors=True)
            self._fail(job, "storage_full", "the results outgrew the space reserved for them; deleted")
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
        """Cancel every job, wait a little for running ones to stop their workers, delete all."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
        deadline = time.monotonic() + _CLOSE_TIMEOUT_S
        for job in jobs:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
        for job in jobs:
            self.delete(job.id)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
