"""`localpose bench serve`: the web service under bounded load on loopback, next to the raw model.

For each worker count (1, then all cores) a fresh `localpose serve` process is started with
the server's default queue (8; `--queue` to change it); 1, 4, 16 and 32 concurrent clients
each send the same fixed number of POST /api/v1/pose requests with real photos. Reported:
p50/p95 latency and throughput of the answered requests, the 503 "busy" refusals a full
queue gives (with Retry-After: expected past workers + queue clients), other errors; and,
measured in this process on the same photos, the raw model time (`PoseEstimator.estimate`
on the same bytes, decoding included) that the one-client latency is compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from localpose.cli.progress import progress_bar
from localpose.server.options import ServerOptions

__all__ = ["register", "run_benchmark"]

CLIENTS = (1, 4, 16, 32)


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("serve", help="the web service under 1/4/16/32 clients vs the raw model")
    parser.add_argument(
        "--images", type=Path, nargs="*", help="photos to send (default: the shared COCO photos)"
    )
    parser.add_argument("--requests", type=int, default=24, help="requests per client (default 24)")
    parser.add_argument(
        "--queue",
        type=int,
        default=ServerOptions().queue_size,
        help="the server's --queue (default %(default)s)",
    )
    parser.add_argument("-w", "--workers", type=int, default=os.cpu_count() or 1, help="largest worker count")
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-serve.json"), metavar="JSON")
    parser.set_defaults(handler=_run)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def raw_model_ms(images: list[bytes], repeat: int = 5) -> float:
    """Median time of one in-process estimate (decode + model) over the photos."""
    from localpose.estimate import PoseEstimator
    from localpose.models import load_model

    with PoseEstimator(model=load_model()) as estimator:
        for data in images:
            estimator.estimate(data)  # warm up
        times = []
        for _ in range(repeat):
            for data in images:
                started = time.perf_counter()
                estimator.estimate(data)
                times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def _start_server(workers: int, queue: int, workdir: Path) -> tuple[subprocess.Popen, str]:
    from localpose.server.launch import start_server_process

    args = ["--workers", str(workers), "--queue", str(queue)]
    return start_server_process(args, workdir / f"serve-{workers}.log")


def _load(url: str, images: list[bytes], clients: int, requests: int) -> dict:
    """`clients` threads, each with one keep-alive connection, send `requests` requests each.

    The client uses the standard library's http.client: it costs far less CPU than a
    full-featured client, and the load generator shares the machine with the server.
    """
    import http.client
    from urllib.parse import urlsplit

    host, port = urlsplit(url).hostname, urlsplit(url).port
    latencies: list[float] = []
    errors, busy = [0], [0]
    lock = threading.Lock()

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=120)
        try:
            for k in range(requests):
                data = images[(offset + k) % len(images)]
                started = time.perf_counter()
                connection.request("POST", "/api/v1/pose", body=data)
                response = connection.getresponse()
                response.read()
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    if response.status == 200:
                        latencies.append(elapsed)
                    elif response.status == 503:
                        busy[0] += 1
                    else:
                        errors[0] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": clients * requests,
        "busy_503": busy[0],
        "errors": errors[0],
        "p50_ms": round(_percentile(latencies, 0.5), 2) if latencies else None,
        "p95_ms": round(_percentile(latencies, 0.95), 2) if latencies else None,
        "throughput_rps": round(len(latencies) / wall, 2),
    }


def run_benchmark(images: list[Path], workers: int, requests: int, queue: int = 8) -> dict:
    from localpose import __version__

    data = [p.read_bytes() for p in images]
    results: dict = {
        "benchmark": "serve",
        "localpose_version": __version__,
        "cores": os.cpu_count(),
        "images": [str(p) for p in images],
        "requests_per_client": requests,
        "queue": queue,
        "raw_model_ms": round(raw_model_ms(data), 2),
        "runs": {},
    }
    counts = sorted({1, workers})
    bar = progress_bar(total=len(counts) * len(CLIENTS), desc="bench serve", unit="load")
    with bar, tempfile.TemporaryDirectory(prefix="localpose-bench-serve-") as workdir:
        for count in counts:
            process, url = _start_server(count, queue, Path(workdir))
            try:
                _load(url, data, 1, 4)  # warm-up
                rows = results["runs"][f"{count}_workers"] = []
                for clients in CLIENTS:
                    bar.set_postfix_str(f"{count} workers, {clients} clients")
                    rows.append(_load(url, data, clients, requests))
                    bar.update()
            finally:
                process.terminate()
                process.wait(timeout=30)
    one = results["runs"]["1_workers"]
    results["p50_one_client_over_raw"] = round(one[0]["p50_ms"] / results["raw_model_ms"], 3)
    if workers > 1:
        best = max(r["throughput_rps"] for r in results["runs"][f"{workers}_workers"])
        results["throughput_ratio"] = round(best / max(r["throughput_rps"] for r in one), 3)
    return results


def _run(args: argparse.Namespace) -> int:
    from localpose.bench import shared_data
    from localpose.errors import EXIT_OK, EXIT_USAGE

    folder = shared_data("images/coco")
    images = args.images or (sorted(folder.glob("*.jpg")) if folder else [])
    if not images:
        print("localpose: bench serve needs --images PHOTO...", file=sys.stderr)
        return EXIT_USAGE
    results = run_benchmark(images, args.workers, args.requests, args.queue)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"raw model (in process): {results['raw_model_ms']:.1f} ms per image")
    print(f"queue {results['queue']}")
    print(f"{'workers':>7} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7} {'503s':>6} {'errors':>6}")
    for name, rows in results["runs"].items():
        for r in rows:
            print(
                f"{name.split('_')[0]:>7} {r['clients']:>7} {r['p50_ms']:>8} {r['p95_ms']:>8} "
                f"{r['throughput_rps']:>7} {r['busy_503']:>6} {r['errors']:>6}"
            )
    print(f"p50 at 1 client / raw model: {results['p50_one_client_over_raw']:.2f}x")
    if "throughput_ratio" in results:
        print(f"throughput {args.workers} workers / 1 worker: {results['throughput_ratio']:.2f}x")
    print(f"written to {args.out}")
    return EXIT_OK
