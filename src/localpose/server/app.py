"""The FastAPI application: routes only, each a thin face over the library.

Images are read into memory (never written to disk), sniffed, and estimated in the worker
pool; video uploads stream into a job folder; the live WebSocket runs one `LiveSession` per
connection, each in a live worker process of its own. Every error is JSON:
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from localpose import __version__
from localpose.draw import PERSON_COLORS, RED, WHITE
from localpose.errors import (
    BusyError,
    ImageTooLargeError,
    InvalidOptionError,
    InvalidVideoError,
    LocalposeError,
    RequestTimeoutError,
    StorageFullError,
    WorkerLostError,
)
from localpose.export import coco_results, frame_to_dict, write_csv
from localpose.models import ModelBundle, installed_models
from localpose.options import EstimatorOptions, option_specs
from localpose.result import PoseFrame
from localpose.schema import LANDMARK_NAMES, SKELETON_EDGES, SKELETONS
from localpose.server.analysis_routes import router as analysis_router
from localpose.server.docs import add_docs_routes
from localpose.server.errors import ApiError, error_body, error_response, install_error_handlers
from localpose.server.guard import ServiceGuard
from localpose.server.jobs import JobStore, VideoJob, result_budget
from localpose.server.live_pool import LivePool
from localpose.server.options import ServerOptions
from localpose.server.pool import EstimatorPool, WorkerSetup, estimate_image, render_image
from localpose.server.uploads import receive_video, uploaded_image, uploaded_images

__all__ = ["create_app"]

API = "/api/v1"

NumPoses = Annotated[int, Query(ge=1, le=10, description="most people to return (1-10)")]


def _estimator_dependency(modes: tuple[str, ...]) -> Any:
    """A FastAPI dependency taking the per-request `EstimatorOptions` that do something in
    `modes` as query parameters; names, help and checks come from the options' declarations."""
    specs = [s for s in option_specs(EstimatorOptions) if s.per_request and set(s.modes) & set(modes)]

    def dependency(**values: str | None) -> EstimatorOptions:
        return EstimatorOptions.from_strings({k: v for k, v in values.items() if v is not None})

    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                spec.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, description=f"{spec.help}; {spec.describe()} (default {spec.default})"),
                annotation=str | None,
            )
            for spec in specs
        ]
    )
    return dependency


EstimatorQuery = Annotated[EstimatorOptions, Depends(_estimator_dependency(("image",)))]
VideoEstimatorQuery = Annotated[EstimatorOptions, Depends(_estimator_dependency(("video",)))]


def model_query(
    request: Request,
    model: Annotated[str | None, Query(description="an installed model's name (/api/v1/info)")] = None,
) -> str | None:
    """The `model` query parameter: None (the server's own model) or an installed model's name;
    anything else is a 422 `invalid_option` that lists the choices."""
    options: ServerOptions = request.app.state.server_options
    if model is None or model == options.default_model_name:
        return None
    installed = [m.name for m in installed_models(options.model.cache_dir) if m.installed]
    if model not in installed:
        raise InvalidOptionError(f"model must be one of {', '.join(installed)}, got {model!r}")
    return model


ModelQuery = Annotated[str | None, Depends(model_query)]


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


def key_accepted(options: ServerOptions, headers: Any) -> bool:
    """No key is needed, or the headers carry it (X-API-Key or Authorization: Bearer)."""
    if options.api_key is None:
        return True
    auth = headers.get("authorization", "")
    supplied = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-api-key")
    return supplied is not None and secrets.compare_digest(supplied.encode(), options.api_key.encode())


def create_app(options: ServerOptions, model: ModelBundle) -> FastAPI:
    """The service: worker pool, job store and routes, started and stopped with the app."""
    setup = WorkerSetup(model, options.limits, options.runtime, options.model.cache_dir)
    pool = EstimatorPool(setup, options.workers, options.queue_size)
    jobs = JobStore(options.jobs_dir, model, options.job_ttl_s, options.jobs_max_bytes)
    live = LivePool(setup, options.live_sessions)

    async def warm_up() -> None:
        await pool.warm()
        live.warm()  # after the estimators, so the two do not share the cores while starting

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        warm = asyncio.create_task(warm_up())
        sweeper = asyncio.create_task(_sweep(jobs))
        try:
            yield
        finally:
            sweeper.cancel()
            await asyncio.gather(pool.close(), live.close())
            warm.cancel()
            await asyncio.to_thread(jobs.close)

    app = FastAPI(
        title="localpose",
        version=__version__,
        description="Offline human pose estimation (MediaPipe BlazePose, 33 landmarks) on your own machine.",
        lifespan=lifespan,
        docs_url=None,  # served offline by localpose.server.docs
        redoc_url=None,
    )
    app.state.pool, app.state.live, app.state.jobs, app.state.server_options = pool, live, jobs, options
    install_error_handlers(app)
    if options.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(ServiceGuard, options=options, key_accepted=key_accepted)  # outermost

    _add_health_routes(app, options, model, pool, live)
    _add_pose_routes(app, options, pool)
    _add_video_routes(app, options, jobs)
    _add_live_route(app, options, live)
    app.include_router(analysis_router)
    add_docs_routes(app)
    _add_webui(app)
    return app


async def _sweep(jobs: JobStore) -> None:
    while True:
        await asyncio.sleep(30)
        await asyncio.to_thread(jobs.expire)


def _add_health_routes(
    app: FastAPI, options: ServerOptions, model: ModelBundle, pool: EstimatorPool, live: LivePool
) -> None:
    @app.api_route("/healthz", methods=["GET", "HEAD"], tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.api_route("/readyz", methods=["GET", "HEAD"], tags=["health"])
    async def readyz() -> JSONResponse:
        """Every estimator worker is up with the model loaded, and no dead live-session worker
        is still being replaced (503 while starting or replacing a dead one)."""
        if not pool.ready:
            code = "recovering" if pool.was_ready else "starting"
            message = f"{pool.alive} of {pool.workers} estimator workers have loaded the model"
            return error_response(503, code, message)
        if live.recovering:
            return error_response(503, "recovering", "a live-session worker died and is being replaced")
        return JSONResponse(
            {
                "status": "ready",
                "workers": pool.workers,
                "restarts": pool.restarts,
                "live": {
                    "sessions": live.sessions,
                    "in_use": live.in_use,
                    "spare_ready": live.spare_ready,
                    "restarts": live.restarts,
                },
            }
        )

    @app.get(f"{API}/info", tags=["info"])
    async def info() -> dict[str, Any]:
        """Version, model, defaults, limits and the landmark schema (names and skeleton edges)."""
        from localpose.analysis import EXERCISES
        from localpose.engine import resolve_runtime
        from localpose.video import OUTPUT_KINDS

        specs = [s for s in option_specs(EstimatorOptions) if s.per_request]
        models = [m.to_dict() for m in installed_models(options.model.cache_dir)]
        for entry in models:
            entry["default"] = entry["name"] == options.default_model_name
        return {
            "name": "localpose",
            "version": __version__,
            "model": {
                "name": model.name,
                "family": model.family,
                "skeleton": model.skeleton,
                "sha256": model.sha256,
                "source": model.source,
            },
            "models": models,
            "runtime": resolve_runtime(options.runtime),
            "workers": pool.workers,
            "queue_size": options.queue_size,
            "defaults": {spec.name: spec.default for spec in specs},
            "options": [
                {
                    "name": spec.name,
                    "default": spec.default,
                    "help": spec.help,
                    "allowed": spec.describe(),
                    "choices": list(spec.choices),
                    "modes": list(spec.modes),
                }
                for spec in specs
            ],
            "limits": {
                "max_image_bytes": options.limits.max_bytes,
                "max_image_pixels": options.limits.max_pixels,
                "max_video_bytes": options.video_max_bytes,
                "request_timeout_s": options.request_timeout_s,
                "job_ttl_s": options.job_ttl_s,
            },
            "schema": {"landmarks": list(LANDMARK_NAMES), "edges": [list(e) for e in SKELETON_EDGES]},
            "skeletons": {
                k: {"landmarks": list(v.names), "edges": [list(e) for e in v.edges]}
                for k, v in SKELETONS.items()
            },
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
        model: ModelQuery,
        format: Literal["json", "csv", "coco"] = "json",
        angles: bool = False,
    ) -> Response:
        """Poses in one image (multipart field `file`, or the raw body): localpose JSON, CSV or COCO."""
        data = await uploaded_image(request, options.limits.max_bytes)
        frame = await pool.run(
            estimate_image, data, estimator, model, timeout=options.request_timeout_s, threaded=True
        )
        return _pose_response(frame, format, angles)

    @app.post(f"{API}/pose/render", tags=["pose"], response_class=Response)
    async def render(
        request: Request,
        estimator: EstimatorQuery,
        model: ModelQuery,
        image_format: Literal["png", "jpeg"] = "png",
        labels: bool = True,
    ) -> Response:
        """The image with the skeletons drawn (red joints, white bones), as PNG or JPEG."""
        data = await uploaded_image(request, options.limits.max_bytes)
        encoded = await pool.run(
            render_image,
            data,
            estimator,
            model,
            image_format,
            labels,
            timeout=options.request_timeout_s,
            threaded=True,
        )
        return Response(encoded, media_type=f"image/{image_format}")

    @app.post(f"{API}/compare", tags=["analysis"])
    async def compare(request: Request, num_poses: NumPoses = 1) -> dict[str, Any]:
        """Similarity (0-100) of the pose in `other` to the pose in `reference` (two multipart files)."""
        from localpose.analysis import compare_poses

        images = await uploaded_images(request, 2 * options.limits.max_bytes, ("reference", "other"))
        estimator = EstimatorOptions(num_poses=num_poses)
        reference, other = await asyncio.gather(
            *(
                pool.run(estimate_image, images[n], estimator, timeout=options.request_timeout_s)
                for n in images
            )
        )
        return compare_poses(reference, other).to_dict()


def _add_video_routes(app: FastAPI, options: ServerOptions, jobs: JobStore) -> None:
    from localpose.video import OUTPUT_KINDS, VideoOptions

    prefix = f"{API}/videos"

    @app.post(prefix, tags=["video"], status_code=202)
    async def create_job(
        request: Request,
        estimator: VideoEstimatorQuery,
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
            estimator=replace(estimator, runtime=options.runtime),
            smoothing=SmoothingOptions(method=smoothing),
            outputs=kinds,
            workers=options.workers,
        )
        job = _reserve_upload(request, jobs, options.video_max_bytes, filename)
        try:
            await _store_upload(request, jobs, job, video_options)
        except ImageTooLargeError as exc:
            await asyncio.to_thread(jobs.delete, job.id)
            if job.reserved < options.video_max_bytes:  # limited by the room left, not the per-video cap
                raise StorageFullError(f"{exc}: the video job storage has no more room") from None
            raise
        except BaseException:
            await asyncio.to_thread(jobs.delete, job.id)
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
            raise ApiError(404, "not_found", f"job {job_id} has no {kind!r} file (state {job.state})")
        media = {"mp4": "video/mp4", "csv": "text/csv", "angles": "text/csv"}.get(kind, "application/json")
        return FileResponse(path, media_type=media, filename=path.name)

    @app.delete(f"{prefix}/{{job_id}}", tags=["video"], status_code=204)
    async def delete_job(job_id: str) -> Response:
        """Cancel the job if it runs and delete its upload and results now."""
        await asyncio.to_thread(jobs.delete, job_id)
        return Response(status_code=204)


def _reserve_upload(request: Request, jobs: JobStore, video_max: int, filename: str) -> VideoJob:
    """A new job holding room for the upload: its declared size, else the most it may send."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > video_max:
            raise ImageTooLargeError(f"video upload is {declared} bytes, over the limit of {video_max}")
        return jobs.create(filename, int(declared))
    room = jobs.room_left()
    if room <= 0:
        raise StorageFullError("video job storage is full; delete finished jobs or wait for them to expire")
    return jobs.create(filename, min(video_max, room))


async def _store_upload(request: Request, jobs: JobStore, job: VideoJob, video_options: Any) -> None:
    """Stream the upload into the job's folder, probe it, and reserve room for its results."""
    from localpose.video import probe

    size = await receive_video(request, job.upload_path, job.reserved)
    try:
        info = await asyncio.to_thread(probe, job.upload_path)  # a 422 now, not in the job
    except InvalidVideoError:  # its message names the server's folder: say it plainly
        raise InvalidVideoError(
            "the upload is not a video that can be decoded (MP4, MOV, AVI, WebM or MKV)"
        ) from None
    jobs.resize(job, size + result_budget(info, video_options))


def _add_live_route(app: FastAPI, options: ServerOptions, live: LivePool) -> None:
    @app.websocket(f"{API}/live")
    async def live_socket(websocket: WebSocket) -> None:
        """Send JPEG frames (binary messages); receive one localpose JSON document per frame.

        Query: num_poses, exercise (adds a live repetition counter: "reps" in each reply). With an
        API key set, send it as a header or as the first message, ``{"api_key": KEY}``. Refusals
        and an idle session (no frame for `live_idle_s`) get a JSON error message, then a close.
        Each session runs in a worker process of its own: if it dies, the client gets a JSON
        `worker_lost` error and close code 1011, and can start a new session at once.
        """
        await websocket.accept()
        if not await _live_key_accepted(websocket, options):
            await _close_with(websocket, 4401, "unauthorized", "this server needs an API key")
            return
        await _live_session(websocket, options, live)


async def _close_with(websocket: WebSocket, close_code: int, code: str, message: str) -> None:
    """Tell the client why in a JSON message, then close."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_json(error_body(code, message))
        await websocket.close(code=close_code, reason=code)


async def _live_key_accepted(websocket: WebSocket, options: ServerOptions) -> bool:
    """The key is in the headers, or (browsers cannot set headers) in the first message."""
    if key_accepted(options, websocket.headers):
        return True
    try:
        message = await asyncio.wait_for(websocket.receive(), 10.0)
        supplied = json.loads(message.get("text") or "{}").get("api_key")
    except (asyncio.TimeoutError, ValueError, AttributeError):
        return False
    return isinstance(supplied, str) and key_accepted(options, {"x-api-key": supplied})


def _live_parameters(websocket: WebSocket, options: ServerOptions) -> tuple[EstimatorOptions, Any]:
    from localpose.analysis import RepCounter

    # the video-mode options, from the same declarations (and checks) as the HTTP routes' parameters
    names = {s.name for s in option_specs(EstimatorOptions) if s.per_request and "video" in s.modes}
    values = {k: v for k, v in websocket.query_params.items() if k in names}
    estimator = replace(EstimatorOptions.from_strings(values), runtime=options.runtime)
    exercise = websocket.query_params.get("exercise")
    return estimator, (RepCounter(exercise) if exercise else None)


async def _live_session(websocket: WebSocket, options: ServerOptions, live: LivePool) -> None:
    try:
        estimator, counter = _live_parameters(websocket, options)
    except (LocalposeError, ValueError) as exc:
        await _close_with(websocket, 1008, InvalidOptionError.code, str(exc))
        return
    try:
        lease = await live.open(estimator)
    except WorkerLostError as exc:
        await _close_with(websocket, 1011, exc.code, str(exc))
        return
    except BusyError as exc:
        await _close_with(websocket, 1013, exc.code, str(exc))
        return
    started = time.perf_counter()
    index = 0
    try:
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), options.live_idle_s)
            except asyncio.TimeoutError:
                idle = f"no frame for {options.live_idle_s:g} s; the live session was closed"
                await _close_with(websocket, 1000, "idle_timeout", idle)
                break
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if not data:
                await websocket.send_json(error_body("invalid_input", "send JPEG frames as binary messages"))
                continue
            t_ms = 1000.0 * (time.perf_counter() - started)
            try:
                frame = await lease.frame(data, t_ms, options.request_timeout_s)
            except (WorkerLostError, RequestTimeoutError) as exc:  # the session's process is gone
                await _close_with(websocket, 1011, exc.code, str(exc))
                break
            except LocalposeError as exc:
                await websocket.send_json(error_body(exc.code, str(exc)))
                continue
            document = frame_to_dict(frame, frame_index=index)
            if counter is not None:
                document["reps"] = counter.update(frame).to_dict()
            document["latency_ms"] = round(1000.0 * (time.perf_counter() - started) - t_ms, 1)
            await websocket.send_text(json.dumps(document, separators=(",", ":")))
            index += 1
    except WebSocketDisconnect:
        pass
    finally:
        await lease.close()


def _add_webui(app: FastAPI) -> None:
    static = resources.files("localpose.server") / "static"

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
