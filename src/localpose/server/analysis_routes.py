"""Analysis of finished video jobs for the WebUI: angle curves, repetitions, BVH, motion compare.

Thin routes over `localpose.analysis`: each reads the job's final keypoints (its JSON Lines
output) and returns what the library computes. Included by `localpose.server.app`.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from localpose.errors import InvalidInputError
from localpose.result import PoseFrame

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["analysis"])


def _keypoints_path(request: Request, job_id: str) -> Path:
    """The JSON Lines keypoints of a finished job (404 for an unknown job, 400 when not ready)."""
    job = request.app.state.jobs.get(job_id)
    path = job.outputs.get("jsonl")
    if job.state != "done" or path is None or not path.is_file():
        raise InvalidInputError(
            f"video job {job_id} has no keypoints to analyse (state {job.state}); "
            "wait until it is done, and ask for the jsonl output"
        )
    return path


def _read_frames(path: Path) -> list[PoseFrame]:
    from localpose.export import read_jsonl

    return list(read_jsonl(path))


async def _job_frames(request: Request, job_id: str) -> list[PoseFrame]:
    return await asyncio.to_thread(_read_frames, _keypoints_path(request, job_id))


@router.get("/videos/{job_id}/angles")
async def video_angles(
    request: Request, job_id: str, space: Literal["world", "image"] = "world", track: int | None = None
) -> dict[str, Any]:
    """Joint angles (degrees) of one person (the main track unless `track`) in every frame."""
    from localpose.analysis.curves import angle_curves

    frames = await _job_frames(request, job_id)
    return angle_curves(frames, track, space).to_dict()


@router.get("/videos/{job_id}/reps")
async def video_reps(
    request: Request, job_id: str, exercise: str, track: int | None = None
) -> dict[str, Any]:
    """Repetitions of `exercise` with tempo, range of motion and form flags per repetition."""
    from localpose.analysis import count_reps, exercise_spec

    spec = exercise_spec(exercise)  # an unknown exercise is a 422 before any file is read
    frames = await _job_frames(request, job_id)
    return (await asyncio.to_thread(count_reps, frames, spec, None, track)).to_dict()


@router.get("/videos/{job_id}/bvh", response_class=Response)
async def video_bvh(request: Request, job_id: str, track: int | None = None) -> Response:
    """One person's motion as a BVH animation (world landmarks)."""
    from localpose.analysis import write_bvh

    frames = await _job_frames(request, job_id)
    stream = io.StringIO()
    await asyncio.to_thread(write_bvh, stream, frames, track)
    name = Path(request.app.state.jobs.get(job_id).filename).stem or "motion"
    return Response(
        stream.getvalue(),
        media_type="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{name}.bvh"'},
    )


@router.get("/compare/videos")
async def compare_videos(request: Request, reference: str, other: str) -> dict[str, Any]:
    """Similarity (0-100) of the motion in job `other` to the motion in job `reference` (DTW)."""
    from localpose.analysis import compare_motions

    ref_frames, other_frames = await asyncio.gather(
        _job_frames(request, reference), _job_frames(request, other)
    )
    report = await asyncio.to_thread(compare_motions, ref_frames, other_frames)
    document = report.to_dict()
    document.pop("path", None)  # the frame-by-frame alignment: long, and the page does not use it
    return document
