"""`localpose bench folder`: a folder of photos, as `localpose image` runs it, on 1 and N workers.

Contenders on the same list of files (read and decoded every time, as a user's batch would be):
  mediapipe   MediaPipe Tasks' PoseLandmarker in a loop over the files, one process (what a
              script on MediaPipe's own Python API does);
  1 worker    `estimate_files` in this process;
  N workers   `estimate_files` over N worker processes (start-up included; N is what
              `localpose image -w N` would start for a batch this size).
The two localpose runs alternate `--repeat` times, then MediaPipe runs in a round of its own
(its graph threads keep a core busy for a while after each call); the fastest run is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from localpose.bench import photos, shared_data
from localpose.cli.progress import progress_bar
from localpose.options import ModelOptions, default_workers

__all__ = ["register", "run_benchmark"]


def register(benches: argparse._SubParsersAction) -> None:
    from localpose.cli.common import add_model_arguments

    parser = benches.add_parser(
        "folder", help="a folder of photos: MediaPipe's loop vs localpose on 1 and N workers, images/s"
    )
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        help="photos to run, searched recursively (default: shared test photos, in a checkout)",
    )
    parser.add_argument("--images", type=int, default=96, help="files per run (the folder's, repeated)")
    parser.add_argument("-n", "--num-poses", type=int, default=1, help="people asked for (default 1)")
    parser.add_argument(
        "-w", "--workers", type=int, default=default_workers(), help="workers for the last contender"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs per contender; the fastest is kept")
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-folder.json"), metavar="JSON")
    add_model_arguments(parser)
    parser.set_defaults(handler=_run)


def _timed(run: Callable[[object], int], estimator: object) -> tuple[float, int]:
    """Seconds `run(estimator)` took, and what it returned (people found)."""
    started = time.perf_counter()
    people = run(estimator)
    return time.perf_counter() - started, people


def run_benchmark(
    folder: Path,
    images: int,
    num_poses: int,
    workers: int,
    repeat: int,
    model_options: ModelOptions | None = None,
) -> dict:
    """Images per second of each contender on `images` files from `folder`; JSON-ready (on the
    bundled model, or the one `model_options` names)."""
    from localpose.batch import BatchOptions, estimate_files
    from localpose.estimate import PoseEstimator
    from localpose.models import load_model
    from localpose.options import EstimatorOptions

    files = photos(folder, images)
    if not files:
        raise FileNotFoundError(f"no photos in {folder}")
    model = load_model(model_options)

    def run_localpose(workers: int) -> Callable[[PoseEstimator], int]:
        batch = BatchOptions(workers=workers)
        return lambda estimator: sum(
            len(o.frame) for o in estimate_files(files, estimator, batch) if o.frame is not None
        )

    def run_mediapipe(estimator: PoseEstimator) -> int:
        return sum(len(estimator.estimate(path)) for path in files)

    localpose = {"localpose_1_worker": run_localpose(1)}
    workers = BatchOptions(workers=workers).workers_for(len(files))  # what a batch this size gets
    if workers > 1:
        localpose[f"localpose_{workers}_workers"] = run_localpose(workers)
    from localpose.engine import mediapipe_version

    rounds: tuple[tuple[str, dict], ...] = (("auto", localpose),)
    if mediapipe_version() is not None:  # the baseline, with the localpose[mediapipe] extra
        rounds += (("mediapipe", {"mediapipe": run_mediapipe}),)
    best: dict[str, float] = {}
    people: dict[str, int] = {}
    bar = progress_bar(total=sum(len(c) for _, c in rounds) * max(1, repeat), desc="bench folder", unit="run")
    for runtime, contenders in rounds:  # MediaPipe's graph threads stay busy after a call
        options = EstimatorOptions(num_poses=num_poses, runtime=runtime)
        with PoseEstimator(options, model, threads=1) as estimator:
            estimator.estimate(files[0])  # warm-up: networks built, caches filled
            for _ in range(max(1, repeat)):
                for name, run in contenders.items():
                    seconds, people[name] = _timed(run, estimator)
                    best[name] = min(best.get(name, seconds), seconds)
                    bar.update()
    bar.close()
    runs = {
        name: {
            "seconds": round(seconds, 3),
            "images_per_s": round(len(files) / seconds, 2),
            "people_found": people[name],
            "speedup_vs_mediapipe": round(best["mediapipe"] / seconds, 2) if "mediapipe" in best else None,
            "speedup_vs_1_worker": round(best["localpose_1_worker"] / seconds, 2),
        }
        for name, seconds in best.items()
    }
    return {
        "benchmark": "folder",
        "folder": str(folder),
        "images": len(files),
        "distinct_images": len(set(files)),
        "model": {"name": model.name, "sha256": model.sha256},
        "num_poses": num_poses,
        "runs": {name: runs[name] for name in sorted(runs, key=lambda n: n != "mediapipe")},
    }


def _run(args: argparse.Namespace) -> int:
    from localpose.cli.common import model_options
    from localpose.errors import EXIT_OK, EXIT_USAGE

    folder = args.folder or shared_data("images")
    if folder is None or not folder.is_dir():
        print("localpose: bench folder needs a FOLDER of photos", file=sys.stderr)
        return EXIT_USAGE
    try:
        results = run_benchmark(
            folder, args.images, args.num_poses, args.workers, args.repeat, model_options(args)
        )
    except FileNotFoundError as exc:
        print(f"localpose: {exc}", file=sys.stderr)
        return EXIT_USAGE
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(
        f"{results['images']} photos ({results['distinct_images']} distinct), "
        f"num_poses={args.num_poses}, model {results['model']['name']}"
    )
    print(f"{'run':22} {'images/s':>9} {'people':>7} {'vs mediapipe':>13}")
    for name, r in results["runs"].items():
        speedup = r["speedup_vs_mediapipe"]
        versus = f"{speedup:>12.2f}x" if speedup is not None else f"{'(not installed)':>13}"
        print(f"{name:22} {r['images_per_s']:>9.1f} {r['people_found']:>7} {versus}")
    print(f"written to {args.out}")
    return EXIT_OK
