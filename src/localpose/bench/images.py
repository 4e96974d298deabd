"""`localpose bench images`: one plain pass against the multi-person search, on COCO photos.

Contenders: `plain` (one pass of the default runtime, what MediaPipe does), `search` (the
default multi-person search) and `mediapipe` (one pass of MediaPipe Tasks itself).

All run in one process on the same decoded images; `plain` and `search` side by side (each
image through one, then the other; best of `--repeat` rounds per image), then `mediapipe`.
Accuracy is scored against COCO ground truth: every annotated person with at least 5
labelled keypoints counts; a prediction matches the unmatched person it has the highest OKS
with (COCO-17 keypoints from the 33 landmarks); recall counts matches with OKS > 0.5; a
duplicate is a second prediction on an already matched person.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localpose.options import ModelOptions

__all__ = ["PeopleScore", "register", "run_benchmark", "score_people"]

MIN_KEYPOINTS = 5
MATCH_OKS = 0.5


@dataclass(frozen=True)
class PeopleScore:
    """How well predicted people match the annotated ones over a set of images."""

    annotated: int
    found: int
    duplicates: int
    unmatched: int
    mean_oks: float

    @property
    def recall(self) -> float:
        return self.found / self.annotated if self.annotated else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "annotated": self.annotated,
            "found": self.found,
            "recall": round(self.recall, 4),
            "duplicates": self.duplicates,
            "unmatched_predictions": self.unmatched,
            "mean_oks_of_found": round(self.mean_oks, 4),
        }


def _oks_matrix(frame, people: list[dict]) -> np.ndarray:
    from localpose.metrics import object_keypoint_similarity
    from localpose.schema import COCO17_FROM_LANDMARKS, COCO17_SIGMAS

    out = np.zeros((len(frame), len(people)))
    for j, person in enumerate(people):
        truth = np.asarray(person["keypoints"], dtype=float).reshape(17, 3)
        for i in range(len(frame)):
            predicted = frame.xy[i, list(COCO17_FROM_LANDMARKS)]
            out[i, j] = object_keypoint_similarity(
                predicted, truth[:, :2], truth[:, 2] > 0, person["area"], COCO17_SIGMAS
            )
    return out


def score_people(frames: dict[int, object], truth: dict) -> PeopleScore:
    """Score predicted frames (by COCO image id) against COCO keypoint annotations."""
    annotated = found = duplicates = unmatched = 0
    matched_oks: list[float] = []
    for image_id, frame in frames.items():
        people = [
            a
            for a in truth["annotations"]
            if a["image_id"] == image_id and a["num_keypoints"] >= MIN_KEYPOINTS
        ]
        annotated += len(people)
        oks = _oks_matrix(frame, people)
        taken: set[int] = set()
        for i in np.argsort(-oks.max(axis=1)) if len(people) and len(frame) else []:
            j = int(oks[i].argmax())
            if oks[i, j] <= MATCH_OKS:
                unmatched += 1
            elif j in taken:
                duplicates += 1
            else:
                taken.add(j)
                matched_oks.append(float(oks[i, j]))
        found += len(taken)
        if not people:
            unmatched += len(frame)
    mean = float(np.mean(matched_oks)) if matched_oks else 0.0
    return PeopleScore(annotated, found, duplicates, unmatched, mean)


def register(benches: argparse._SubParsersAction) -> None:
    from localpose.cli.common import add_model_arguments

    parser = benches.add_parser("images", help="plain pass vs multi-person search on COCO photos")
    parser.add_argument(
        "--coco",
        type=Path,
        help="folder with COCO photos and coco_person_keypoints.json "
        "(default: ../shared/data/images/coco next to the checkout)",
    )
    parser.add_argument("-n", "--num-poses", type=int, default=10, help="people asked for (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per image; the fastest is kept")
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-images.json"), metavar="JSON")
    add_model_arguments(parser)
    parser.set_defaults(handler=_run)


def _side_by_side(estimators: dict, images: dict, repeat: int) -> tuple[dict, dict]:
    """Frames and best times (ms) per estimator and image, each image through each in turn."""
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
    return frames, times


def run_benchmark(
    folder: Path, num_poses: int = 10, repeat: int = 3, model_options: ModelOptions | None = None
) -> dict:
    """The contenders on every annotated photo in `folder`; JSON-ready results (on the
    bundled model, or the one `model_options` names).

    MediaPipe Tasks runs in a round of its own: its graph threads keep a core busy for a
    while after each call, which would slow whichever contender ran next.
    """
    from localpose.estimate import PoseEstimator
    from localpose.images import load_image
    from localpose.models import load_model
    from localpose.options import EstimatorOptions

    truth = json.loads((folder / "coco_person_keypoints.json").read_text())
    images = {i["id"]: load_image(folder / i["file_name"]) for i in truth["images"]}
    from localpose.engine import mediapipe_version

    model = load_model(model_options)
    rounds: tuple[dict[str, tuple[str, str]], ...] = (
        {"plain": ("single-pass", "auto"), "search": ("search", "auto")},
    )
    if mediapipe_version() is not None:  # MediaPipe's own pass, with the localpose[mediapipe] extra
        rounds += ({"mediapipe": ("single-pass", "mediapipe")},)
    frames: dict[str, dict] = {}
    times: dict[str, dict] = {}
    for contenders in rounds:  # name: (multi-person mode, runtime)
        estimators = {
            name: PoseEstimator(
                EstimatorOptions(num_poses=num_poses, multi_person=mode, runtime=runtime), model, threads=1
            )
            for name, (mode, runtime) in contenders.items()
        }
        found, took = _side_by_side(estimators, images, repeat)
        frames.update(found)
        times.update(took)
        for estimator in estimators.values():
            estimator.close()
    runs = {
        name: {
            **score_people(frames[name], truth).to_dict(),
            "ms_per_image": round(float(np.mean(list(times[name].values()))), 2),
            "ms_by_image": {str(k): round(v, 2) for k, v in times[name].items()},
            "people_by_image": {str(k): len(f) for k, f in frames[name].items()},
        }
        for name in frames
    }
    for name in ("plain", "mediapipe"):
        if name in runs:
            runs["search"][f"time_ratio_to_{name}"] = round(
                runs["search"]["ms_per_image"] / runs[name]["ms_per_image"], 2
            )
    return {
        "benchmark": "images",
        "folder": str(folder),
        "model": {"name": model.name, "sha256": model.sha256},
        "num_poses": num_poses,
        "runs": runs,
        "latency": _latency(model, list(images.values()), repeat),
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
    from localpose.errors import EXIT_OK, EXIT_USAGE

    folder = args.coco or shared_data("images/coco")
    if folder is None:
        print("localpose: bench images needs --coco FOLDER", file=sys.stderr)
        return EXIT_USAGE
    from localpose.cli.common import model_options

    results = run_benchmark(folder, args.num_poses, args.repeat, model_options(args))
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"model {results['model']['name']}")
    print(f"{'run':9} {'recall':>7} {'found':>9} {'dups':>5} {'mean OKS':>9} {'ms/image':>9}")
    for name, r in results["runs"].items():
        print(
            f"{name:9} {r['recall']:>7.2f} {r['found']:>4}/{r['annotated']:<4} {r['duplicates']:>5} "
            f"{r['mean_oks_of_found']:>9.3f} {r['ms_per_image']:>9.1f}"
        )
    search = results["runs"]["search"]
    versus = search.get("time_ratio_to_mediapipe")
    mediapipe = (
        f", {versus:.2f}x MediaPipe Tasks' plain pass" if versus else " (MediaPipe Tasks not installed)"
    )
    print(f"search time: {search['time_ratio_to_plain']:.2f}x the plain pass{mediapipe}")
    latency = results["latency"]
    print(
        "one person per photo, p50: "
        + ", ".join(f"{name.replace('_', ' ')} {ms:.1f} ms" for name, ms in latency["p50_ms"].items())
        + f" ({latency['ratio']:.2f}x); written to {args.out}"
    )
    return EXIT_OK
