"""`localpose classify train|predict`: simple action classes from pose features, trained in seconds."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from localpose.cli.analysis_input import EXPORT_SUFFIXES, PoseLoader, add_input_arguments, is_image
from localpose.images import IMAGE_SUFFIXES

__all__ = ["register"]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "classify",
        help="train and use a small pose classifier (action classes)",
        description=(
            "Label poses with your own classes. `train DIR` reads DIR/<label>/ folders of images "
            "and videos (every pose is an example) and writes a JSON model; `predict` labels "
            "images, or every frame of a video. Features and models: "
            "`python -m pydoc localpose.analysis.classify`."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="build a model from a folder of labelled examples")
    train.add_argument("folder", type=Path, metavar="DIR", help="one subfolder per label")
    train.add_argument("-o", "--out", type=Path, default=Path("classifier.json"), metavar="MODEL",
                       help="model file to write (default classifier.json)")  # fmt: skip
    train.add_argument("--kind", choices=("knn", "logistic"), default="knn",
                       help="k-nearest neighbours (default) or logistic regression")  # fmt: skip
    train.add_argument("-k", type=int, default=5, help="neighbours for knn (default 5)")
    train.add_argument("--every", type=int, default=1, metavar="N",
                       help="videos: use every Nth frame (default 1)")  # fmt: skip
    add_input_arguments(train)
    train.set_defaults(handler=run_train)
    predict = actions.add_parser("predict", help="label images or the frames of videos")
    predict.add_argument(
        "classifier", type=Path, metavar="MODEL", help="a classifier written by `classify train`"
    )
    predict.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="images, videos or exports")
    predict.add_argument("--json", action="store_true", help="print JSON (one document per input)")
    predict.add_argument("--window", type=int, default=5, metavar="N",
                         help="videos: average class probabilities over N frames (default 5)")  # fmt: skip
    add_input_arguments(predict)
    predict.set_defaults(handler=run_predict)


def _examples(folder: Path) -> list[tuple[str, Path]]:
    wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES | EXPORT_SUFFIXES
    return [
        (label_dir.name, path)
        for label_dir in sorted(p for p in folder.iterdir() if p.is_dir())
        for path in sorted(label_dir.rglob("*"))
        if path.is_file() and path.suffix.lower() in wanted
    ]


def run_train(args: argparse.Namespace) -> int:
    import numpy as np

    from localpose.analysis.classify import PoseClassifier, frame_features
    from localpose.analysis.series import PersonSeries
    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK, InvalidInputError, InvalidOptionError

    if args.every < 1:
        raise InvalidOptionError("--every must be at least 1")
    if not args.folder.is_dir():
        raise InvalidInputError(f"{args.folder}: not a folder")
    examples = _examples(args.folder)
    if not examples:
        raise InvalidInputError(f"{args.folder}: no images or videos in label subfolders")
    features, labels, skipped = [], [], 0
    started = time.perf_counter()
    with PoseLoader(args) as loader:
        for label, path in examples:
            frames = loader.load(path)
            if is_image(path):
                frame = frames[0]
                if len(frame) == 0:
                    skipped += 1
                    print(f"localpose: {path}: nobody found, skipped", file=sys.stderr)
                    continue
                features.append(frame_features(frame[int(np.argmax(frame.score))])[0])
                labels.append(label)
                continue
            series = PersonSeries.from_frames(frames, args.track)
            for k in range(0, len(series), args.every):
                if series.present[k]:
                    features.append(frame_features(series.frame(k))[0])
                    labels.append(label)
    estimated = time.perf_counter() - started
    fit_started = time.perf_counter()
    model = PoseClassifier.fit(np.array(features), labels, kind=args.kind, k=args.k)
    fitted = time.perf_counter() - fit_started
    model.save(args.out)
    counts = Counter(labels)
    summary = ", ".join(f"{label} {counts[label]}" for label in model.labels)
    print(
        f"localpose: {args.kind} model on {len(labels)} poses ({summary}) from {len(examples)} files: "
        f"poses {estimated:.1f} s, fit {fitted:.2f} s -> {args.out}",
        file=sys.stderr,
    )
    return EXIT_FAILED_INPUTS if skipped else EXIT_OK


def run_predict(args: argparse.Namespace) -> int:
    from localpose.analysis.classify import PoseClassifier, classify_people, label_segments, label_series
    from localpose.analysis.series import PersonSeries
    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK

    model = PoseClassifier.load(args.classifier)
    failures = 0
    with PoseLoader(args) as loader:
        for path in args.inputs:
            frames = loader.load(path)
            if is_image(path):
                people = classify_people(model, frames[0])
                failures += not people
                if args.json:
                    print(json.dumps({"source": str(path), "people": people}))
                else:
                    found = "; ".join(
                        f"person {p['person']}: {p['label']} ({p['probabilities'][p['label']]:.2f})"
                        for p in people
                    )
                    print(f"{path}: {found or 'nobody found'}")
                continue
            series = PersonSeries.from_frames(frames, args.track)
            labels = label_series(model, series, args.window)
            failures += all(label is None for label in labels)
            segments = label_segments(labels)
            if args.json:
                print(
                    json.dumps(
                        {"source": str(path), "labels": labels, "segments": [s.to_dict() for s in segments]}
                    )
                )
            else:
                print(f"{path}:")
                for s in segments:
                    t0 = series.timestamps_ms[s.start] / 1000.0
                    t1 = series.timestamps_ms[s.end] / 1000.0
                    print(f"  frames {s.start}-{s.end} ({t0:.2f}-{t1:.2f} s): {s.label}")
    return EXIT_FAILED_INPUTS if failures else EXIT_OK
