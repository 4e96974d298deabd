"""The FastAPI application: routes only, each a thin face over the library.

Images are read into memory (never written to disk), sniffed, and estimated in the worker
pool; video uploads stream into a job folder; the live WebSocket runs one `LiveSession` per
connection. Every error is JSON: ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import secrets
import time
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from localpose import __version__
from localpose.draw import PERSON_COLORS, RED, WHITE
from localpose.errors import (
    BusyError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidInputError,
    InvalidOptionError,
    InvalidVideoError,
    LocalposeError,
    ModelUnavailableError,
)
from localpose.export import coco_results, frame_to_dict, write_csv
from localpose.models import ModelBundle
from localpose.options import EstimatorOptions
from localpose.result import PoseFrame
from localpose.schema import LANDMARK_NAMES, SKELETON_EDGES
from localpose.server.jobs import JobNotFoundError, JobStore, StorageFullError
from localpose.server.options import ServerOptions
from localpose.server.pool import EstimatorPool, RequestTimeoutError, estimate_image, render_image

__all__ = ["create_app"]

API = "/api/v1"

_STATUS: dict[type[LocalposeError], int] = {
    ImageTooLargeError: 413,
    InvalidVideoError: 422,
    InvalidImageError: 422,
    InvalidOptionError: 422,
    InvalidInputError: 400,
    BusyError: 503,
    RequestTimeoutError: 504,
    ModelUnavailableError: 503,
    JobNotFoundError: 404,
    StorageFullError: 507,
}


class _ApiError(LocalposeError):
    """An HTTP-level error with its own status (missing upload, auth, wrong media type)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _status_of(exc: LocalposeError) -> int:
    if isinstance(exc, _ApiError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LocalposeError)
    async def localpose_error(_request: Request, exc: LocalposeError) -> JSONResponse:
        headers = {"Retry-After": "1"} if isinstance(exc, BusyError) else None
        return _error_response(_status_of(exc), exc.code, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()
        )
        return _error_response(422, "invalid_parameter", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error_response(exc.status_code, code, str(exc.detail))


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole request body in memory, refused once it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ImageTooLargeError(f"upload is {declared} bytes, over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ImageTooLargeError(f"upload is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_multipart(content_type: str, body: bytes) -> EmailMessage:
    """A multipart/form-data body parsed in memory (the standard library's MIME parser)."""
    return BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )


def _multipart_file(content_type: str, body: bytes) -> bytes:
    """The first file part (or the part named "file") of a multipart/form-data body, in memory."""
    message = _parse_multipart(content_type, body)
    if not message.is_multipart():
        raise _ApiError(400, "bad_multipart", "malformed multipart/form-data body")
    parts = list(message.iter_parts())
    named = [p for p in parts if p.get_param("name", header="content-disposition") == "file"]
    files = [p for p in parts if p.get_filename() is not None]
    chosen = (named or files or [None])[0]
    if chosen is None:
        raise _ApiError(400, "missing_file", "multipart upload has no 'file' part")
    return chosen.get_payload(decode=True) or b""


async def _uploaded_image(request: Request, limit: int) -> bytes:
    """Image bytes from a multipart upload or a raw body; the content is sniffed later."""
    body = await _read_body(request, limit)
    content_type = request.headers.get("content-type", "")
    data = _multipart_file(content_type, body) if content_type.startswith("multipart/form-data") else body
    if not data:
        raise _ApiError(400, "missing_image", "no image in the request (send a file part or a raw body)")
    if not _looks_like_image(data):
        raise _ApiError(415, "unsupported_media_type", "not a supported image (JPEG, PNG, WebP or BMP)")
    return data


_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM")


def _looks_like_image(data: bytes) -> bool:
    """Content sniffing of the accepted formats (the file name and content type are not trusted)."""
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


NumPoses = Annotated[int, Query(ge=1, le=10, description="most people to return (1-10)")]
Unit = Annotated[float, Query(ge=0.0, le=1.0)]
MultiPerson = Annotated[Literal["auto", "search", "single-pass"], Query()]
_DEFAULTS = EstimatorOptions()


def estimator_query(
    num_poses: NumPoses = 1,
    min_detection_confidence: Unit = _DEFAULTS.min_detection_confidence,
    min_presence_confidence: Unit = _DEFAULTS.min_presence_confidence,
    multi_person: MultiPerson = "auto",
) -> EstimatorOptions:
    """The estimator options of an image request, from its query parameters."""
    return EstimatorOptions(
        num_poses=num_poses,
        min_detection_confidence=min_detection_confidence,
        min_presence_confidence=min_presence_confidence,
        multi_person=multi_person,
    )


EstimatorQuery = Annotated[EstimatorOptions, Depends(estimator_query)]


def _pose_document(frame: PoseFrame, angles: bool, source: str | None = None) -> dict[str, Any]:
    document = frame_to_dict(frame, source=source)
    if angles:
        from localpose.analysis import add_angles_to_document

        add_angles_to_document(document, frame)
    return document


def _pose_response(frame: PoseFrame, output: str, angles: bool) -> Response:
    if output == "csv":
        stream = io.StringIO()
        write_csv(stream, [frame], source="upload")
        return Response(stream.getvalue(), media_type="text/csv")
    if output == "coco":
        return JSONResponse(coco_results([(0, frame)]))
    return JSONResponse(_pose_document(frame, angles))


def _check_key(options: ServerOptions, supplied: str | None) -> None:
    if options.api_key is None:
        return
    if supplied is None or not secrets.compare_digest(supplied.encode(), options.api_key.encode()):
        raise _ApiError(401, "unauthorized", "this server needs an API key (X-API-Key header)")


def _key_from(headers: Any, query: Any) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-api-key") or query.get("api_key")


def create_app(options: ServerOptions, model: ModelBundle) -> FastAPI:
    """The service: worker pool, job store and routes, started and stopped with the app."""
    pool = EstimatorPool(model, options.workers, options.queue_size, options.limits, options.runtime)
    jobs = JobStore(options.jobs_dir, model, options.job_ttl_s, options.jobs_max_bytes)
    live_slots = asyncio.Semaphore(options.live_sessions)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        warm = asyncio.create_task(pool.warm())
        sweeper = asyncio.create_task(_sweep(jobs))
        try:
            yield
        finally:
            sweeper.cancel()
            await pool.close()
            warm.cancel()
            await asyncio.to_thread(jobs.close)

    app = FastAPI(
        title="localpose",
        version=__version__,
        description="Offline human pose estimation (MediaPipe BlazePose, 33 landmarks) on your own machine.",
        lifespan=lifespan,
    )
    app.state.pool, app.state.jobs = pool, jobs
    _install_error_handlers(app)
    if options.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )

    @app.middleware("http")
    async def api_key_guard(request: Request, call_next):
        if request.url.path.startswith("/api/") and request.method != "OPTIONS":
            try:
                _check_key(options, _key_from(request.headers, request.query_params))
            except _ApiError as exc:
                return _error_response(exc.status, exc.code, str(exc))
        return await call_next(request)

    _add_health_routes(app, options, model, pool)
    _add_pose_routes(app, options, pool)
    _add_video_routes(app, options, jobs)
    _add_live_route(app, options, model, live_slots)
    _add_webui(app)
    return app


async def _sweep(jobs: JobStore) -> None:
    while True:
        await asyncio.sleep(30)
        await asyncio.to_thread(jobs.expire)


def _add_health_routes(app: FastAPI, options: ServerOptions, model: ModelBundle, pool: EstimatorPool) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Every worker is up with the model loaded (503 while starting or replacing a dead one)."""
        if not pool.ready:
            code = "recovering" if pool.was_ready else "starting"
            message = f"{pool.alive} of {pool.workers} estimator workers have loaded the model"
            return _error_response(503, code, message)
        return JSONResponse({"status": "ready", "workers": pool.workers, "restarts": pool.restarts})

    @app.get(f"{API}/info", tags=["info"])
    async def info() -> dict[str, Any]:
        """Version, model, defaults, limits and the landmark schema (names and skeleton edges)."""
        from localpose.analysis import EXERCISES
        from localpose.engine import resolve_runtime
        from localpose.video import OUTPUT_KINDS

        defaults = EstimatorOptions()
        return {
            "name": "localpose",
            "version": __version__,
            "model": {"name": model.name, "sha256": model.sha256, "source": model.source},
            "runtime": resolve_runtime(options.runtime),
            "workers": pool.workers,
            "queue_size": options.queue_size,
            "defaults": {
                "num_poses": defaults.num_poses,
                "min_detection_confidence": defaults.min_detection_confidence,
                "min_presence_confidence": defaults.min_presence_confidence,
                "multi_person": defaults.multi_person,
            },
            "limits": {
                "max_image_bytes": options.limits.max_bytes,
                "max_image_pixels": options.limits.max_pixels,
                "max_video_bytes": options.video_max_bytes,
                "request_timeout_s": options.request_timeout_s,
                "job_ttl_s": options.job_ttl_s,
            },
            "schema": {"landmarks": list(LANDMARK_NAMES), "edges": [list(e) for e in SKELETON_EDGES]},
            "style": {"joint": RED, "bone": WHITE, "person_colors": [list(c) for c in PERSON_COLORS]},
            "video_outputs": list(OUTPUT_KINDS),
            "exercises": list(EXERCISES),
            "auth": options.api_key is not None,
        }


def _add_pose_routes(app: FastAPI, options: ServerOptions, pool: EstimatorPool) -> None:
    @app.post(f"{API}/pose", tags=["pose"])
    async def pose(
        request: Request,
        estimator: EstimatorQuery,
        format: Literal["json", "csv", "coco"] = "json",
        angles: bool = False,
    ) -> Response:
        """Poses in one image (multipart field `file`, or the raw body): localpose JSON, CSV or COCO."""
        data = await _uploaded_image(request, options.limits.max_bytes)
        frame = await pool.run(estimate_image, data, estimator, timeout=options.request_timeout_s)
        return _pose_response(frame, format, angles)

    @app.post(f"{API}/pose/render", tags=["pose"], response_class=Response)
    async def render(
        request: Request,
        estimator: EstimatorQuery,
        image_format: Literal["png", "jpeg"] = "png",
        labels: bool = True,
    ) -> Response:
        """The image with the skeletons drawn (red joints, white bones), as PNG or JPEG."""
        data = await _uploaded_image(request, options.limits.max_bytes)
        encoded = await pool.run(
            render_image, data, estimator, image_format, labels, timeout=options.request_timeout_s
        )
        return Response(encoded, media_type=f"image/{image_format}")

    @app.post(f"{API}/compare", tags=["analysis"])
    async def compare(request: Request, num_poses: NumPoses = 1) -> dict[str, Any]:
        """Similarity (0-100) of the pose in `other` to the pose in `reference` (two multipart files)."""
        from localpose.analysis import compare_poses

        body = await _read_body(request, 2 * options.limits.max_bytes)
        images = _named_parts(request.headers.get("content-type", ""), body, ("reference", "other"))
        estimator = EstimatorOptions(num_poses=num_poses)
        reference, other = await asyncio.gather(
            *(
                pool.run(estimate_image, images[n], estimator, timeout=options.request_timeout_s)
                for n in images
            )
        )
        return compare_poses(reference, other).to_dict()


def _named_parts(content_type: str, body: bytes, names: tuple[str, ...]) -> dict[str, bytes]:
    if not content_type.startswith("multipart/form-data"):
        raise _ApiError(
            415, "unsupported_media_type", "send multipart/form-data with 'reference' and 'other'"
        )
    message = _parse_multipart(content_type, body)
    found = {
        p.get_param("name", header="content-disposition"): p.get_payload(decode=True) or b""
        for p in message.iter_parts()
    }
    missing = [n for n in names if not found.get(n)]
    if missing:
        raise _ApiError(400, "missing_file", f"missing image part(s): {', '.join(missing)}")
    for name in names:
        if not _looks_like_image(found[name]):
            raise _ApiError(415, "unsupported_media_type", f"'{name}' is not a supported image")
    return {n: found[n] for n in names}


def _add_video_routes(app: FastAPI, options: ServerOptions, jobs: JobStore) -> None:
    from localpose.video import OUTPUT_KINDS, VideoOptions

    prefix = f"{API}/videos"

    @app.post(prefix, tags=["video"], status_code=202)
    async def create_job(
        request: Request,
        num_poses: NumPoses = 1,
        outputs: str = "mp4,jsonl,csv",
        smoothing: Literal["butterworth", "gaussian", "none"] = "butterworth",
        filename: str = "upload.mp4",
    ) -> JSONResponse:
        """Upload a video as the raw body (or multipart field `file`); returns 202 and the job id."""
        from localpose.smooth import SmoothingOptions

        kinds = tuple(dict.fromkeys(k.strip() for k in outputs.split(",") if k.strip()))
        if not kinds or set(kinds) - set(OUTPUT_KINDS):
            raise InvalidOptionError(f"outputs must be a comma-separated subset of {', '.join(OUTPUT_KINDS)}")
        video_options = VideoOptions(
            estimator=EstimatorOptions(num_poses=num_poses, runtime=options.runtime),
            smoothing=SmoothingOptions(method=smoothing),
            outputs=kinds,
            workers=options.workers,
        )
        limit = min(options.video_max_bytes, jobs.room_left())
        if limit <= 0:
            raise StorageFullError(
                "video job storage is full; delete finished jobs or wait for them to expire"
            )
        content_type = request.headers.get("content-type", "")
        job = jobs.create(filename)
        try:
            await _receive_video(request, job.upload_path, content_type, limit)
        except BaseException:
            jobs.delete(job.id)
            raise
        jobs.start(job, video_options)
        return JSONResponse(job.to_dict(prefix), status_code=202, headers={"Location": f"{prefix}/{job.id}"})

    @app.get(f"{prefix}/{{job_id}}", tags=["video"])
    async def job_status(job_id: str) -> dict[str, Any]:
        """State (queued, running, done, failed, cancelled), progress and result file links."""
        return jobs.get(job_id).to_dict(prefix)

    @app.get(f"{prefix}/{{job_id}}/files/{{kind}}", tags=["video"])
    async def job_file(job_id: str, kind: str) -> FileResponse:
        """One result file: mp4 (annotated video), jsonl, csv, raw, coco, angles."""
        job = jobs.get(job_id)
        path = job.outputs.get(kind)
        if path is None or not path.is_file():
            raise _ApiError(404, "not_found", f"job {job_id} has no {kind!r} file (state {job.state})")
        media = {"mp4": "video/mp4", "csv": "text/csv", "angles": "text/csv"}.get(kind, "application/json")
        return FileResponse(path, media_type=media, filename=path.name)

    @app.delete(f"{prefix}/{{job_id}}", tags=["video"], status_code=204)
    async def delete_job(job_id: str) -> Response:
        """Cancel the job if it runs and delete its upload and results now."""
        await asyncio.to_thread(jobs.delete, job_id)
        return Response(status_code=204)


async def _receive_video(request: Request, path, content_type: str, limit: int) -> None:
    """Stream the upload to `path` (raw body, or the file part of a multipart body)."""
    if content_type.startswith("multipart/form-data"):
        body = await _read_body(request, limit)
        data = _multipart_file(content_type, body)
        await asyncio.to_thread(path.write_bytes, data)
        size = len(data)
    else:
        size = 0
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ImageTooLargeError(f"video upload is over the limit of {limit} bytes")
                out.write(chunk)
    if size == 0:
        raise _ApiError(400, "missing_video", "no video in the request")
    from localpose.video import probe

    await asyncio.to_thread(probe, path)  # InvalidVideoError (422) now rather than in the job


def _add_live_route(
    app: FastAPI, options: ServerOptions, model: ModelBundle, slots: asyncio.Semaphore
) -> None:
    @app.websocket(f"{API}/live")
    async def live(websocket: WebSocket) -> None:
        """Send JPEG frames (binary messages); receive one localpose JSON document per frame.

        Query: num_poses, exercise (adds a live repetition counter: "reps" in each reply).
        """
        try:
            _check_key(options, _key_from(websocket.headers, websocket.query_params))
        except _ApiError:
            await websocket.close(code=4401, reason="unauthorized")
            return
        if slots.locked():
            await websocket.close(code=1013, reason="too many live sessions; try again later")
            return
        async with slots:
            await websocket.accept()
            await _live_session(websocket, options, model)


def _live_parameters(websocket: WebSocket, options: ServerOptions) -> tuple[EstimatorOptions, Any]:
    from localpose.analysis import RepCounter

    num_poses = int(websocket.query_params.get("num_poses", "1"))
    estimator = EstimatorOptions(num_poses=num_poses, runtime=options.runtime)
    exercise = websocket.query_params.get("exercise")
    return estimator, (RepCounter(exercise) if exercise else None)


async def _live_session(websocket: WebSocket, options: ServerOptions, model: ModelBundle) -> None:
    from localpose.images import decode_image
    from localpose.live import LiveSession

    try:
        estimator, counter = _live_parameters(websocket, options)
    except (LocalposeError, ValueError) as exc:
        await websocket.send_json({"error": {"code": "invalid_parameter", "message": str(exc)}})
        await websocket.close(code=1008)
        return
    session = await asyncio.to_thread(LiveSession, estimator, model)
    started = time.perf_counter()
    index = 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if not data:
                await websocket.send_json(
                    {"error": {"code": "invalid_input", "message": "send JPEG frames as binary messages"}}
                )
                continue
            t_ms = 1000.0 * (time.perf_counter() - started)
            try:
                rgb = decode_image(data, options.limits)
            except LocalposeError as exc:
                await websocket.send_json({"error": {"code": exc.code, "message": str(exc)}})
                continue
            frame = await asyncio.to_thread(session.process, rgb, t_ms)
            document = frame_to_dict(frame, frame_index=index)
            if counter is not None:
                document["reps"] = counter.update(frame).to_dict()
            document["latency_ms"] = round(1000.0 * (time.perf_counter() - started) - t_ms, 1)
            await websocket.send_text(json.dumps(document, separators=(",", ":")))
            index += 1
    except WebSocketDisconnect:
        pass
    finally:
        await asyncio.to_thread(session.close)


def _add_webui(app: FastAPI) -> None:
    static = resources.files("localpose.server") / "static"

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
