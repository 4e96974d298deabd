"""`localpose serve`: the REST API and the WebUI on http://127.0.0.1:8080 by default."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from localpose.cli.common import add_model_arguments, add_runtime_argument, model_options
from localpose.options import ImageLimits, default_workers
from localpose.server.options import ServerOptions

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="start the web service and WebUI (default http://127.0.0.1:8080)",
        description=(
            "Serve the REST API (/api/v1, docs at /docs) and the browser WebUI (/). Images are "
            "processed in memory; only video jobs are written, to a temporary folder, and deleted "
            "after --job-ttl or on DELETE. Browsers allow the webcam only on localhost or HTTPS: "
            "use --certfile/--keyfile when serving other machines on a LAN."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument(
        "-w",
        "--workers",
        type=int,
        default=default_workers(),
        help="estimator processes (default: cores, %(default)s)",
    )
    parser.add_argument(
        "--queue", type=int, default=8, help="requests that may wait for a worker (default 8)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="per-request timeout in seconds (default 30)"
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LOCALPOSE_API_KEY"),
        help="require this key on /api/ routes (default: $LOCALPOSE_API_KEY; none when unset)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow this browser origin (repeatable)",
    )
    parser.add_argument(
        "--allowed-hosts",
        default="",
        metavar="NAMES",
        help=(
            "comma-separated host names the Host header may carry, or * for any (default: the bind "
            "address; localhost, 127.0.0.1 and ::1 for a loopback bind; any name for 0.0.0.0)"
        ),
    )
    parser.add_argument("--certfile", type=Path, help="TLS certificate (PEM) for HTTPS")
    parser.add_argument("--keyfile", type=Path, help="TLS private key (PEM) for HTTPS")
    parser.add_argument(
        "--jobs-dir", type=Path, help="where video jobs live (default: a new temporary folder)"
    )
    parser.add_argument(
        "--job-ttl", type=float, default=3600.0, help="seconds a video job is kept (default 3600)"
    )
    server = ServerOptions()
    parser.add_argument(
        "--jobs-max-mb",
        type=float,
        default=server.jobs_max_bytes / 1024**2,
        help="space for all video jobs, uploads and results, in MiB (default %(default)g)",
    )
    parser.add_argument(
        "--video-max-mb",
        type=float,
        default=server.video_max_bytes / 1024**2,
        help="largest video upload in MiB (default %(default)g)",
    )
    parser.add_argument(
        "--live-idle",
        type=float,
        default=server.live_idle_s,
        help="seconds a live WebSocket may send nothing before it is closed (default %(default)g)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=server.header_timeout_s,
        help="seconds a client has to send its request headers (default %(default)g)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=server.body_timeout_s,
        help="seconds a request body may pause before the request is dropped (default %(default)g)",
    )
    defaults = ImageLimits()
    parser.add_argument(
        "--max-image-mb",
        type=float,
        default=defaults.max_bytes / 1024**2,
        help="largest image upload in MiB (default %(default)g)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=defaults.max_pixels,
        help="most pixels in a decoded image, against decompression bombs (default %(default)d)",
    )
    add_runtime_argument(parser)
    add_model_arguments(parser)
    parser.set_defaults(handler=run)


def _raise_open_file_limit() -> None:
    """Allow as many open files as the system lets this process have (often 1024 by default,
    which a few hundred idle connections would use up before they time out)."""
    try:
        import resource
    except ImportError:  # Windows has no such limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from localpose.errors import EXIT_OK
    from localpose.models import load_model
    from localpose.server import create_app
    from localpose.server.guard import guarded_protocol

    options = ServerOptions(
        host=args.host,
        port=args.port,
        workers=args.workers,
        queue_size=args.queue,
        request_timeout_s=args.timeout,
        model=model_options(args),
        api_key=args.api_key or None,
        cors_origins=tuple(args.cors_origin),
        certfile=args.certfile,
        keyfile=args.keyfile,
        jobs_dir=args.jobs_dir,
        limits=ImageLimits(max_bytes=int(args.max_image_mb * 1024**2), max_pixels=args.max_pixels),
        job_ttl_s=args.job_ttl,
        runtime=args.runtime,
        allowed_hosts=tuple(h.strip() for h in args.allowed_hosts.split(",") if h.strip()),
        jobs_max_bytes=int(args.jobs_max_mb * 1024**2),
        video_max_bytes=int(args.video_max_mb * 1024**2),
        live_idle_s=args.live_idle,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
    )
    model = load_model(options.model)
    _raise_open_file_limit()
    app = create_app(options, model)
    scheme = "https" if options.certfile else "http"
    print(
        f"localpose: serving the WebUI on {scheme}://{options.host}:{options.port}/ "
        f"(API docs at /docs, {options.workers} worker(s), model {model.name})",
        file=sys.stderr,
    )
    if options.host in ("0.0.0.0", "::") and options.api_key is None:
        print(
            f"localpose: warning: listening on all interfaces ({options.host}) without --api-key: "
            "anyone on the network can use this server",
            file=sys.stderr,
        )
    uvicorn.run(
        app,
        host=options.host,
        port=options.port,
        ssl_certfile=str(options.certfile) if options.certfile else None,
        ssl_keyfile=str(options.keyfile) if options.keyfile else None,
        log_level="warning",
        timeout_graceful_shutdown=5,
        http=guarded_protocol(options.header_timeout_s),
        timeout_keep_alive=5,
        ws_max_size=options.limits.max_bytes,
    )
    return EXIT_OK
