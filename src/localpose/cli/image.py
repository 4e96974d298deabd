"""`localpose image`: poses in image files and folders, written as JSON, CSV, COCO and overlays."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from localpose.batch import BatchOptions, estimate_files, overlay_file_suffix
from localpose.cli.common import add_estimator_arguments, comma_list, estimator_options, model_options
from localpose.cli.progress import progress_bar
from localpose.estimate import PoseEstimator
from localpose.export import coco_image_ids, coco_images, coco_results, frame_to_dict, write_csv
from localpose.export.openpose import OPENPOSE_FOLDER, openpose_dict
from localpose.result import PoseFrame

__all__ = ["IMAGE_SUFFIXES", "register"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
FORMATS = ("json", "csv", "coco", "openpose")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "image",
        help="estimate poses in images",
        description=(
            "Estimate poses in image files and folders (searched recursively for "
            ".jpg .jpeg .png .webp .bmp). Without --out, prints one localpose JSON document "
            "per image to standard output (JSON Lines)."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    parser.add_argument("-o", "--out", type=Path, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument(
        "-f",
        "--format",
        type=comma_list(FORMATS, "format"),
        default=("json",),
        help="comma-separated outputs: json (one file per image), csv (keypoints.csv), "
        "coco (coco_results.json with integer image ids, and coco_images.json mapping them to "
        "files), openpose (openpose_json/<name>_keypoints.json, BODY_25); default json",
    )
    parser.add_argument("--draw", action="store_true", help="also write <name>.overlay.jpg/.png")
    parser.add_argument(
        "-w",
        "--workers",
        type=_workers,
        default=0,
        help="worker processes at most (default: all cores; one per 8 images, so small batches "
        "run in this process)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    add_estimator_arguments(parser, modes=("image",))
    parser.set_defaults(handler=run)


def _workers(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (all cores) or more, got {text}")
    return value


@dataclass
class _Input:
    path: Path
    name: str
    """Output name: the path relative to the folder it was found in, without suffix."""


def collect_inputs(paths: list[Path]) -> tuple[list[_Input], list[str]]:
    """Image files to process (folders expanded), and one message per path that cannot be used."""
    inputs: list[_Input] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                problems.append(f"{path}: no images in this folder")
            inputs.extend(_Input(p, str(p.relative_to(path).with_suffix(""))) for p in found)
        elif path.is_file():
            inputs.append(_Input(path, path.stem))
        else:
            problems.append(f"{path}: no such file or folder")
    used: dict[str, int] = {}
    for item in inputs:
        count = used.get(item.name, 0) + 1
        used[item.name] = count
        if count > 1:
            item.name = f"{item.name}-{count}"
    return inputs, problems


@dataclass
class _Outputs:
    out: Path | None
    formats: tuple[str, ...]
    results: list[tuple[_Input, PoseFrame]] = field(default_factory=list)

    def add(self, item: _Input, frame: PoseFrame, overlay: bytes | None) -> None:
        self.results.append((item, frame))
        if self.out is None:
            print(json.dumps(frame_to_dict(frame, source=str(item.path)), separators=(",", ":")))
            return
        target = self.out / item.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if "json" in self.formats:
            document = frame_to_dict(frame, source=str(item.path))
            target.with_name(target.name + ".json").write_text(json.dumps(document, indent=1) + "\n")
        if "openpose" in self.formats:
            folder = self.out / OPENPOSE_FOLDER
            folder.mkdir(exist_ok=True)
            flat = item.name.replace("/", "_").replace("\\", "_")
            (folder / f"{flat}_keypoints.json").write_text(json.dumps(openpose_dict(frame)) + "\n")
        if overlay is not None:
            target.with_name(target.name + ".overlay" + overlay_file_suffix(item.path)).write_bytes(overlay)

    def finish(self) -> None:
        if self.out is None:
            return
        if "csv" in self.formats:
            with (self.out / "keypoints.csv").open("w", newline="") as stream:
                write_csv(stream, [], header=True)
                for index, (item, frame) in enumerate(self.results):
                    write_csv(stream, [frame], source=str(item.path), start_index=index, header=False)
        if "coco" in self.formats:
            ids = coco_image_ids([item.path.stem for item, _ in self.results])
            frames = [frame for _, frame in self.results]
            entries = coco_results(zip(ids, frames, strict=True))
            (self.out / "coco_results.json").write_text(json.dumps(entries) + "\n")
            names = [str(item.path) for item, _ in self.results]
            images = coco_images(zip(ids, names, frames, strict=True))
            (self.out / "coco_images.json").write_text(json.dumps({"images": images}, indent=1) + "\n")


def run(args: argparse.Namespace) -> int:
    from localpose.cli import EXIT_FAILED_INPUTS, EXIT_OK

    formats = args.format
    inputs, problems = collect_inputs(args.paths)
    for message in problems:
        print(f"localpose: {message}", file=sys.stderr)
    if not inputs:
        return EXIT_FAILED_INPUTS
    outputs = _Outputs(args.out, formats)
    failures = len(problems)
    people = 0
    with PoseEstimator(estimator_options(args), model_options(args)) as estimator:
        started = time.perf_counter()
        batch = BatchOptions(workers=args.workers, overlay=args.draw and args.out is not None)
        outcomes = estimate_files([item.path for item in inputs], estimator, batch)
        bar = progress_bar(args.quiet, total=len(inputs), unit="img")
        for item, outcome in zip(inputs, outcomes, strict=True):
            bar.update()
            if outcome.frame is None:
                failures += 1
                bar.write(f"localpose: {item.path}: {outcome.error}", file=sys.stderr)
                continue
            people += len(outcome.frame)
            outputs.add(item, outcome.frame, outcome.overlay)
        bar.close()
        elapsed = time.perf_counter() - started
        outputs.finish()
        model_name = estimator.model.name
    done = len(outputs.results)
    if not args.quiet:
        per_image = f", {1000 * elapsed / done:.0f} ms/image" if done else ""
        where = f" -> {args.out}" if args.out else ""
        print(
            f"localpose: {done} image(s) processed, {failures} failed, "
            f"{people} {'person' if people == 1 else 'people'} found"
            f"{per_image} (model {model_name}){where}",
            file=sys.stderr,
        )
    return EXIT_FAILED_INPUTS if failures else EXIT_OK
