"""`localpose bench video`: the seed system's loop against localpose, side by side in one run.

Contenders, each in its own fresh process on the same real video:
  seed        OpenCV capture + legacy ``mp.solutions.pose`` (static_image_mode=False) +
              MediaPipe's drawing on every frame, as the seed system did (no files written);
  localpose   `process_video` with 1 worker, then with all workers: decode, estimate, track,
              validate, smooth, and write the annotated MP4, JSON Lines and CSV.
End-to-end frames/s is frames over the wall time of the whole process (start-up included);
loop frames/s leaves out interpreter and model start-up. Peak RSS is the largest process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from localpose.cli.progress import progress_bar

__all__ = ["register", "run_benchmark"]

DEFAULT_VIDEO = "videos/pushup_side.mp4"


def register(benches: argparse._SubParsersAction) -> None:
    from localpose.options import default_workers

    parser = benches.add_parser(
        "video", help="seed loop vs localpose on 1 and all workers, end-to-end frames/s and RSS"
    )
    parser.add_argument(
        "--video",
        type=Path,
        help="video to run (default: the project's shared test clip, from a checkout)",
    )
    parser.add_argument(
        "-w", "--workers", type=int, default=default_workers(), help="workers for the last run"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the best is kept")
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-video.json"), metavar="JSON")
    parser.set_defaults(handler=_run)


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def seed_loop(video: str) -> dict:
    """The seed's loop: read with OpenCV, estimate with the legacy solution, draw; per frame."""
    import cv2

    from localpose.engine.tasks import SeedSolutionLoop

    loop = SeedSolutionLoop()
    capture = cv2.VideoCapture(video)
    frames = people = 0
    started = time.perf_counter()
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        people += loop.step(bgr)
        frames += 1
    loop_s = time.perf_counter() - started
    capture.release()
    loop.close()
    return {"frames": frames, "people_frames": people, "loop_s": loop_s}


def localpose_run(video: str, workers: int, outputs: tuple[str, ...] = ("mp4", "jsonl", "csv")) -> dict:
    """localpose's whole pipeline, writing `outputs` (by default the annotated MP4, JSON Lines, CSV)."""
    from localpose.models import load_model
    from localpose.video import VideoOptions, process_video

    model = load_model()
    with tempfile.TemporaryDirectory(prefix="localpose-bench-") as out:
        started = time.perf_counter()
        report = process_video(video, out, VideoOptions(workers=workers, outputs=outputs), model)
        loop_s = time.perf_counter() - started
    people = sum(1 for f in report.poses if len(f))
    return {"frames": report.frames, "people_frames": people, "loop_s": loop_s, "stages_s": report.seconds}


def _child(kind: str, video: str, workers: int) -> None:
    """Entry point of one contender's process: prints its result as JSON on the last line."""
    if kind == "seed":
        result = seed_loop(video)
    elif kind == "keypoints":
        result = localpose_run(video, workers, ("jsonl", "csv"))
    else:
        result = localpose_run(video, workers)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _contender(kind: str, video: Path, workers: int) -> dict:
    code = f"from localpose.bench.video import _child; _child({kind!r}, {str(video)!r}, {workers})"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env={**os.environ}
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{kind} run failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    result["end_to_end_fps"] = result["frames"] / wall
    result["loop_fps"] = result["frames"] / result["loop_s"]
    return result


def run_benchmark(video: Path, workers: int, repeat: int = 1) -> dict:
    """All contenders in one run; the best of `repeat` runs each."""
    from localpose import __version__
    from localpose.engine import mediapipe_version
    from localpose.video import probe

    info = probe(video)
    has_seed = mediapipe_version() is not None  # the baseline needs the localpose[mediapipe] extra
    plan = [("seed", "seed", 1)] if has_seed else []
    plan.append(("localpose_1_worker", "localpose", 1))
    if workers > 1:
        plan.append((f"localpose_{workers}_workers", "localpose", workers))
    plan.append((f"localpose_{workers}_workers_no_mp4", "keypoints", workers))
    runs = {}
    with progress_bar(total=len(plan) * max(1, repeat), desc="bench video", unit="run") as bar:
        for name, kind, count in plan:
            bar.set_postfix_str(name)
            tries = []
            for _ in range(max(1, repeat)):
                tries.append(_contender(kind, video, count))
                bar.update()
            runs[name] = max(tries, key=lambda r: r["end_to_end_fps"])
    for result in runs.values():
        result["ratio_to_seed"] = (
            result["end_to_end_fps"] / runs["seed"]["end_to_end_fps"] if has_seed else None
        )
    return {
        "benchmark": "video",
        "localpose_version": __version__,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "video": {"path": str(video), "frames": info.frame_count, "size": [info.width, info.height]},
        "runs": runs,
    }


def _table(results: dict) -> str:
    lines = [
        f"{'run':32} {'frames':>6} {'end-to-end fps':>15} {'loop fps':>9} {'x seed':>7} {'peak RSS MB':>12}"
    ]
    for name, r in results["runs"].items():
        lines.append(
            f"{name:32} {r['frames']:>6} {r['end_to_end_fps']:>15.1f} {r['loop_fps']:>9.1f} "
            + (f"{r['ratio_to_seed']:>7.2f} " if r["ratio_to_seed"] is not None else f"{'-':>7} ")
            + f"{r['peak_rss_mb']:>12.0f}"
        )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from localpose.bench import shared_data
    from localpose.errors import EXIT_OK, EXIT_USAGE

    video = args.video or shared_data(DEFAULT_VIDEO)
    if video is None or not Path(video).is_file():
        print("localpose: bench video needs --video PATH (no default clip found)", file=sys.stderr)
        return EXIT_USAGE
    results = run_benchmark(Path(video), args.workers, args.repeat)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(_table(results))
    print(f"results written to {args.out}")
    return EXIT_OK
