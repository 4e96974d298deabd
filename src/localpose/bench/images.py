"""`localpose bench images`: the multi-person stages on every annotated photo set.

Contenders: `plain` (one pass of the default runtime, what MediaPipe does), `search` (the
detector-first search), `proposals` (MoveNet MultiPose proposals, BlazePose landmarks on each:
the default for several people), `thunder` (the proposals, MoveNet Thunder on each: COCO-17
keypoints, `--model movenet-thunder`) and `mediapipe` (one pass of MediaPipe Tasks itself, with the
extra). Sets: `localpose.evaluation` (COCO, CrowdPose, PoseTrack, Human3.6M, MediaPipe's
golden photo), each scored there: people annotated, found (OKS > 0.5), duplicates,
predictions matching no one, mean OKS of the found.

All run in one process on the same decoded images, side by side (each image through one
contender, then the next; best of `--repeat` rounds per image), then `mediapipe`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from localpose.cli.progress import progress_bar
from localpose.evaluation import SETS
from localpose.options import ModelOptions

__all__ = ["CONTENDERS", "register", "run_benchmark"]

THUNDER = "movenet-thunder"
CONTENDERS: dict[str, tuple[str, str]] = {
    "plain": ("single-pass", "auto"),
    "search": ("search", "auto"),
    "proposals": ("proposals", "auto"),
    "thunder": ("proposals", "auto"),
}
"""Name: (multi-person mode, runtime), run side by side; `thunder` runs MoveNet Thunder on the
proposals (model movenet-thunder, COCO-17), the others the chosen BlazePose model."""


def register(benches: argparse._SubParsersAction) -> None:
    from localpose.cli.common import add_model_arguments

    parser = benches.add_parser("images", help="the multi-person stages on every annotated photo set")
    parser.add_argument(
        "--data",
        type=Path,
        help="data folder with images/ and mediapipe/ (default: shared test data, in a checkout)",
    )
    parser.add_argument(
        "--sets", default=",".join(SETS), help=f"comma-separated annotated sets (default {','.join(SETS)})"
    )
    parser.add_argument("-n", "--num-poses", type=int, default=10, help="people asked for (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per image; the fastest is kept")
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-images.json"), metavar="JSON")
    add_model_arguments(parser)
    parser.set_defaults(handler=_run)


def _side_by_side(estimators: dict, images: dict, repeat: int, bar: Any) -> tuple[dict, dict]:
    """Frames and best times (ms) per estimator and image, each image through each in turn
    (`bar` advances by one per image pass)."""
    frames: dict[str, dict] = {name: {} for name in estimators}
    times: dict[str, dict] = {name: {} for name in estimators}
    for estimator in estimators.values():  # warm-up: networks built, caches filled
        estimator.estimate(next(iter(images.values())))
    for _ in range(max(1, repeat)):
        for image_id, rgb in images.items():
            for name, estimator in estimators.items():
                started = time.perf_counter()
                frames[name][image_id] = estimator.estimate(rgb)
                elapsed = 1000 * (time.perf_counter() - started)
                times[name][image_id] = min(times[name].get(image_id, elapsed), elapsed)
            bar.update()
    return frames, times


def run_benchmark(
    data: Path,
    num_poses: int = 10,
    repeat: int = 3,
    model_options: ModelOptions | None = None,
    sets: tuple[str, ...] = SETS,
) -> dict:
    """The contenders on every annotated set in `data`; JSON-ready results (on the bundled
    model, or the one `model_options` names).

    MediaPipe Tasks runs in a round of its own: its graph threads keep a core busy for a
    while after each call, which would slow whichever contender ran next.
    """
    from localpose.engine import mediapipe_version
    from localpose.estimate import PoseEstimator
    from localpose.evaluation import load_set, score_frames
    from localpose.images import load_image
    from localpose.models import load_model
    from localpose.options import EstimatorOptions

    model = load_model(model_options)
    thunder = load_model(replace(model_options or ModelOptions(), model=THUNDER))
    rounds: tuple[dict[str, tuple[str, str]], ...] = (CONTENDERS,)
    if mediapipe_version() is not None:  # MediaPipe's own pass, with the localpose[mediapipe] extra
        rounds += ({"mediapipe": ("single-pass", "mediapipe")},)
    results: dict[str, dict] = {}
    passes = sum(len(load_set(data, name)) for name in sets) * max(1, repeat) * len(rounds)
    bar = progress_bar(total=passes, desc="bench images", unit="image")
    for name in sets:
        bar.set_postfix_str(name)
        annotated = load_set(data, name)
        images = {str(image.path.name): load_image(image.path) for image in annotated}
        frames: dict[str, dict] = {}
        times: dict[str, dict] = {}
        for contenders in rounds:  # name: (multi-person mode, runtime)
            estimators = {
                label: PoseEstimator(
                    EstimatorOptions(num_poses=num_poses, multi_person=mode, runtime=runtime),
                    thunder if label == "thunder" else model,
                    threads=1,
                )
                for label, (mode, runtime) in contenders.items()
            }
            found, took = _side_by_side(estimators, images, repeat, bar)
            frames.update(found)
            times.update(took)
            for estimator in estimators.values():
                estimator.close()
        results[name] = {
            label: {
                **score_frames(list(frames[label].values()), annotated).to_dict(),
                "ms_per_image": round(float(np.mean(list(times[label].values()))), 2),
                "people_by_image": {k: len(f) for k, f in frames[label].items()},
            }
            for label in frames
        }
    bar.close()
    return {
        "benchmark": "images",
        "data": str(data),
        "model": {"name": model.name, "sha256": model.sha256},
        "num_poses": num_poses,
        "sets": results,
        "latency": _latency(model, [load_image(i.path) for i in load_set(data, sets[0])], repeat),
    }


def _latency(model: object, images: list[np.ndarray], repeat: int) -> dict:
    """One person per photo, one photo at a time: the networks on one thread (every core
    busy elsewhere) against the threads a lone `PoseEstimator` takes; interleaved per photo,
    median per photo over `repeat` x 5 runs, then the median over photos (p50)."""
    from localpose.estimate import PoseEstimator
    from localpose.options import EstimatorOptions

    with (
        PoseEstimator(EstimatorOptions(), model, threads=1) as one,
        PoseEstimator(EstimatorOptions(), model) as auto,
    ):
        contenders = {"1_thread": one, f"{auto.threads}_threads": auto}
        medians: dict[str, list[float]] = {name: [] for name in contenders}
        for rgb in images:
            took: dict[str, list[float]] = {name: [] for name in contenders}
            for estimator in contenders.values():
                estimator.estimate(rgb)  # warm-up for this image size
            for _ in range(max(1, repeat) * 5):
                for name, estimator in contenders.items():
                    started = time.perf_counter()
                    estimator.estimate(rgb)
                    took[name].append(1000 * (time.perf_counter() - started))
            for name in contenders:
                medians[name].append(float(np.median(took[name])))
    p50 = {name: round(float(np.median(values)), 2) for name, values in medians.items()}
    first, second = list(p50)
    return {"p50_ms": p50, "ratio": round(p50[second] / p50[first], 3)}


def _run(args: argparse.Namespace) -> int:
    from localpose.bench import shared_data
    from localpose.cli.common import model_options
    from localpose.errors import EXIT_OK, EXIT_USAGE

    data = args.data or shared_data("")
    sets = tuple(s.strip() for s in args.sets.split(",") if s.strip())
    unknown = [s for s in sets if s not in SETS]
    if data is None or unknown:
        problem = f"unknown set(s) {', '.join(unknown)}" if unknown else "no data folder"
        usage = f"give --data FOLDER and --sets from {','.join(SETS)}"
        print(f"localpose: bench images: {problem}; {usage}", file=sys.stderr)
        return EXIT_USAGE
    results = run_benchmark(data, args.num_poses, args.repeat, model_options(args), sets)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"model {results['model']['name']}, num_poses {results['num_poses']}")
    columns = ("annotated", "found", "dups", "unmatched", "mean OKS", "ms/image")
    print(f"{'set':10} {'run':10} " + " ".join(f"{c:>9}" for c in columns))
    for name, runs in results["sets"].items():
        for label, r in runs.items():
            print(
                f"{name:10} {label:10} {r['annotated']:>9} {r['found']:>9} {r['duplicates']:>9} "
                f"{r['unmatched_predictions']:>9} {r['mean_oks_of_found']:>9.3f} {r['ms_per_image']:>9.1f}"
            )
    latency = results["latency"]
    print(
        f"one person per photo ({sets[0]}), p50: "
        + ", ".join(f"{name.replace('_', ' ')} {ms:.1f} ms" for name, ms in latency["p50_ms"].items())
        + f" ({latency['ratio']:.2f}x); written to {args.out}"
    )
    return EXIT_OK
