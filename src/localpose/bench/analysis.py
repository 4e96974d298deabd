"""`localpose bench analysis`: what the analysis layer costs per frame, next to inference.

Runs on synthetic poses (no model, no data files): joint/segment angles, the live repetition
counter, one pose comparison, DTW over two motions, and BVH export. Prints a short table and
writes JSON (`--out`).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["register", "run_benchmark"]


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("analysis", help="cost of angles, rep counting, similarity, DTW and BVH")
    parser.add_argument("--frames", type=int, default=300, help="frames per synthetic motion (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("-o", "--out", type=Path, metavar="JSON", help="write the results here too")
    parser.set_defaults(handler=_run)


def _frames(n: int, seed: int = 0) -> list:
    from localpose.result import PoseFrame

    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 0.3, (33, 3))
    out = []
    for k in range(n):
        world = base + 0.1 * np.sin(k / 10.0) + rng.normal(0.0, 0.01, (33, 3))
        out.append(
            PoseFrame(
                image_size=(1280, 720),
                xy=(world[:, :2] * 400 + 500)[None],
                z=np.zeros((1, 33)),
                visibility=np.full((1, 33), 0.9),
                presence=np.ones((1, 33)),
                world=world[None],
                score=[0.9],
                timestamp_ms=1000.0 * k / 30.0,
            )
        )
    return out


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def run_benchmark(frames: int = 300, repeat: int = 3) -> dict:
    """Seconds per operation, as a JSON-ready dict."""
    from localpose.analysis import RepCounter, compare_motions, compare_poses, frame_angles, write_bvh

    a, b = _frames(frames, 0), _frames(frames, 1)

    def count() -> None:
        counter = RepCounter("squat")
        for f in a:
            counter.update(f)

    results = {
        "angles_image_and_world_ms_per_frame": 1000
        * _best(lambda: [(frame_angles(f, "image"), frame_angles(f, "world")) for f in a], repeat)
        / frames,
        "rep_counter_update_ms_per_frame": 1000 * _best(count, repeat) / frames,
        "compare_poses_ms": 1000 * _best(lambda: [compare_poses(a[0], f) for f in b[:100]], repeat) / 100,
        f"compare_motions_{frames}x{frames}_s": _best(lambda: compare_motions(a, b), repeat),
        f"write_bvh_{frames}_frames_s": _best(lambda: write_bvh(io.StringIO(), a), repeat),
    }
    return {
        "benchmark": "analysis",
        "frames": frames,
        "repeat": repeat,
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "results": {k: round(v, 4) for k, v in results.items()},
    }


def _run(args: argparse.Namespace) -> int:
    report = run_benchmark(args.frames, args.repeat)
    for name, value in report["results"].items():
        print(f"{name:<40} {value:>10.4f}", file=sys.stderr)
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0
