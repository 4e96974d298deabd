"""`localpose bench cluster`: local worker processes against Ray actors at equal cores, one run.

Contenders on the same inputs, alternating `--repeat` times (the fastest run is kept):
  local   `estimate_files` / `process_video` on N worker processes (start-up included);
  ray     the same on N Ray actors (`localpose.cluster`; actor start-up and model loading
          included; starting or connecting to Ray itself is measured once, apart).
Inputs: `--images` photos (the shared photos repeated) and a long video (annotated MP4,
JSON Lines, CSV). The overhead ratio is Ray's wall time over the local one. Peak memory is
the resident memory of this process and everything under it, sampled every 0.1 s (with an
embedded Ray that is the whole node: Ray's own processes and the actors).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from localpose.bench import photos, shared_data
from localpose.cli.progress import progress_bar

__all__ = ["register", "run_benchmark"]

DEFAULT_VIDEO = "videos/pushup_side.mp4"


def register(benches: argparse._SubParsersAction) -> None:
    from localpose.options import default_workers

    parser = benches.add_parser(
        "cluster", help="local workers vs Ray actors at equal cores: wall time, overhead, peak memory"
    )
    parser.add_argument("--images", type=int, default=200, help="photos per run (default 200)")
    parser.add_argument("--folder", type=Path, help="photos (default: shared test photos, in a checkout)")
    parser.add_argument("--video", type=Path, help="video (default: shared test clip, in a checkout)")
    parser.add_argument(
        "-w", "--workers", type=int, default=default_workers(), help="processes and actors each"
    )
    parser.add_argument("--ray", metavar="ADDRESS", help="a running cluster (default: Ray in this process)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the fastest is kept")
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-cluster.json"), metavar="JSON")
    parser.set_defaults(handler=_run)


class _PeakMemory:
    """Peak resident memory (MB) of this process and all its descendants, sampled on a thread."""

    def __init__(self) -> None:
        import os

        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _tree_mb(self) -> float:
        import os

        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo.extend(child for child, parent in parents.items() if parent == pid)
        total = 0
        for pid in tree:
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
        return total * self.page_mb

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_mb())
            self._stop.wait(0.1)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def _timed(run: Callable[[], object]) -> tuple[float, float, object]:
    """(seconds, peak MB, result) of `run()`."""
    with _PeakMemory() as memory:
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
    return seconds, memory.peak, result


def run_benchmark(
    photos: list[Path], video: Path, workers: int, address: str | None, repeat: int, scratch: Path
) -> dict:
    """Wall time, overhead ratio and peak memory of local workers and Ray actors; JSON-ready."""
    from localpose.batch import BatchOptions, estimate_files
    from localpose.cluster import RayOptions, connect, require_ray
    from localpose.estimate import PoseEstimator
    from localpose.models import load_model
    from localpose.video import VideoOptions, VideoPool, process_video

    model = load_model()
    ray = require_ray()
    started = time.perf_counter()
    connect(address)
    ray_start_s = time.perf_counter() - started
    ray_options = RayOptions(address=address, actors=workers)
    video_options = VideoOptions(workers=workers, outputs=("mp4", "jsonl", "csv"))

    def images(batch: BatchOptions) -> Callable[[], object]:
        def run() -> object:
            with PoseEstimator(model=model) as estimator:
                return [o.frame for o in estimate_files(photos, estimator, batch)]

        return run

    def video_run(name: str, on_ray: bool) -> Callable[[], object]:
        def run() -> object:
            out = scratch / name
            if on_ray:
                with VideoPool(workers, ray_options) as pool:
                    process_video(video, out, video_options, model, pool=pool)
            else:
                process_video(video, out, video_options, model)
            return (out / f"{video.stem}.jsonl").read_bytes()

        return run

    contenders = {
        "images": {
            "local": images(BatchOptions(workers=workers)),
            "ray": images(BatchOptions(ray=ray_options)),
        },
        "video": {"local": video_run("local", False), "ray": video_run("ray", True)},
    }
    results: dict[str, dict] = {}
    bar = progress_bar(
        total=sum(len(r) for r in contenders.values()) * max(1, repeat), desc="bench cluster", unit="run"
    )
    try:
        for task, runs in contenders.items():
            best: dict[str, tuple[float, float]] = {}
            outputs: dict[str, object] = {}
            for _ in range(max(1, repeat)):
                for name, run in runs.items():
                    bar.set_postfix_str(f"{task} {name}")
                    seconds, peak, outputs[name] = _timed(run)
                    bar.update()
                    if name not in best or seconds < best[name][0]:
                        best[name] = (seconds, peak)
            items = len(photos) if task == "images" else video_frames(video)
            results[task] = {
                name: {
                    "seconds": round(seconds, 3),
                    "per_s": round(items / seconds, 2),
                    "peak_memory_mb": round(peak, 1),
                }
                for name, (seconds, peak) in best.items()
            }
            results[task]["overhead_ratio"] = round(best["ray"][0] / best["local"][0], 3)
            results[task]["same_results"] = _same(outputs["local"], outputs["ray"])
            results[task]["items"] = items
    finally:
        ray.shutdown()
    nodes = ray_options.address or "embedded (this machine)"
    return {
        "benchmark": "cluster",
        "workers": workers,
        "ray": {"version": ray.__version__, "cluster": nodes, "start_or_connect_s": round(ray_start_s, 2)},
        "video": str(video),
        "model": {"name": model.name, "sha256": model.sha256},
        "runs": results,
    }


def video_frames(video: Path) -> int:
    from localpose.video import frame_timestamps

    return len(frame_timestamps(video))


def _same(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        import numpy as np

        return len(a) == len(b) and all(
            (x is None and y is None) or (x is not None and y is not None and np.array_equal(x.xy, y.xy))
            for x, y in zip(a, b, strict=True)
        )
    return a == b


def _run(args: argparse.Namespace) -> int:
    from localpose.cluster import require_ray
    from localpose.errors import EXIT_OK, EXIT_USAGE

    require_ray()
    folder = args.folder or shared_data("images")
    video = args.video or shared_data(DEFAULT_VIDEO)
    images = photos(folder, args.images)
    if not images or video is None or not video.is_file():
        print("localpose: bench cluster needs --folder (photos) and --video", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="localpose-bench-cluster-") as scratch:
        results = run_benchmark(images, video, args.workers, args.ray, args.repeat, Path(scratch))
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{args.workers} worker processes vs {args.workers} Ray actors ({results['ray']['cluster']})")
    print(f"{'task':8} {'run':6} {'seconds':>8} {'per s':>8} {'peak MB':>8}  overhead")
    for task, runs in results["runs"].items():
        for name in ("local", "ray"):
            r = runs[name]
            ratio = f"{runs['overhead_ratio']:.3f}x" if name == "ray" else ""
            figures = f"{r['seconds']:>8.2f} {r['per_s']:>8.1f} {r['peak_memory_mb']:>8.0f}"
            print(f"{task:8} {name:6} {figures}  {ratio}")
    print(f"written to {args.out}")
    return EXIT_OK
