"""`localpose image`: poses in image files and folders, written as JSON, CSV, COCO and overlays."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from localpose.batch import BatchOptions, estimate_files, overlay_file_suffix
from localpose.cli.cluster import add_ray_argument, ray_options
from localpose.cli.common import add_estimator_arguments, comma_list, estimator_options, model_options
from localpose.cli.progress import progress_bar
from localpose.estimate import PoseEstimator
from localpose.export import coco_image_ids, coco_images, coco_results, frame_to_dict, write_csv
from localpose.export.openpose import OPENPOSE_FOLDER, openpose_dict
from localpose.images import image_files
from localpose.manifest import Manifest, atomic_path, fingerprint
from localpose.result import PoseFrame

__all__ = ["register"]

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
    add_ray_argument(parser)
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
            found = image_files(path)
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
    draw: bool = False
    manifest: Manifest | None = None
    """With an output folder: the finished images, so a re-run skips them (localpose.manifest)."""
    results: list[tuple[_Input, PoseFrame]] = field(default_factory=list)

    def files(self, item: _Input) -> list[tuple[str, Path]]:
        """The per-image files of `item` in the output folder, with their kind."""
        assert self.out is not None
        target = self.out / item.name
        files = [("json", target.with_name(target.name + ".json"))] if "json" in self.formats else []
        if "openpose" in self.formats:
            flat = item.name.replace("/", "_").replace("\\", "_")
            files.append(("openpose", self.out / OPENPOSE_FOLDER / f"{flat}_keypoints.json"))
        if self.draw:
            files.append(
                ("overlay", target.with_name(target.name + ".overlay" + overlay_file_suffix(item.path)))
            )
        return files

    def add(self, item: _Input, frame: PoseFrame, overlay: bytes | None) -> None:
        self.results.append((item, frame))
        if self.out is None:
            print(json.dumps(frame_to_dict(frame, source=str(item.path)), separators=(",", ":")))
            return
        (self.out / item.name).parent.mkdir(parents=True, exist_ok=True)
        for kind, path in self.files(item):
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temporary:
                if kind == "json":
                    document = frame_to_dict(frame, source=str(item.path))
                    temporary.write_text(json.dumps(document, indent=1) + "\n")
                elif kind == "openpose":
                    temporary.write_text(json.dumps(openpose_dict(frame)) + "\n")
                elif overlay is not None:
                    temporary.write_bytes(overlay)
        if self.manifest is not None:
            kept = self.manifest.keep_frame(item.name, frame)
            self.manifest.add(item.path, [*(path for _, path in self.files(item)), kept])

    def done_before(self, item: _Input) -> PoseFrame | None:
        """The poses of `item` when a previous run with the same settings finished it."""
        if self.manifest is None or not self.manifest.finished(item.path, [p for _, p in self.files(item)]):
            return None
        return self.manifest.kept_frame(item.name)

    def finish(self) -> None:
        if self.out is None:
            return
        if "csv" in self.formats:
            with (
                atomic_path(self.out / "keypoints.csv") as temporary,
                temporary.open("w", newline="") as stream,
            ):
                write_csv(stream, [], header=True)
                for index, (item, frame) in enumerate(self.results):
                    write_csv(stream, [frame], source=str(item.path), start_index=index, header=False)
        if "coco" in self.formats:
            ids = coco_image_ids([item.path.stem for item, _ in self.results])
            frames = [frame for _, frame in self.results]
            entries = coco_results(zip(ids, frames, strict=True))
            with atomic_path(self.out / "coco_results.json") as temporary:
                temporary.write_text(json.dumps(entries) + "\n")
            names = [str(item.path) for item, _ in self.results]
            images = coco_images(zip(ids, names, frames, strict=True))
            with atomic_path(self.out / "coco_images.json") as temporary:
                temporary.write_text(json.dumps({"images": images}, indent=1) + "\n")


def run(args: argparse.Namespace) -> int:
    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK

    formats = args.format
    inputs, problems = collect_inputs(args.paths)
    for message in problems:
        print(f"localpose: {message}", file=sys.stderr)
    if not inputs:
        return EXIT_FAILED_INPUTS
    draw = args.draw and args.out is not None
    outputs = _Outputs(args.out, formats, draw)
    failures = len(problems)
    people = skipped = more_seen = 0
    ray = ray_options(args)
    with PoseEstimator(estimator_options(args), model_options(args)) as estimator:
        if args.out is not None:
            settings = fingerprint(estimator.options, estimator.model.sha256, estimator.limits, formats, draw)
            outputs.manifest = Manifest(args.out, settings)
        started = time.perf_counter()
        batch = BatchOptions(workers=args.workers, overlay=draw, ray=ray)
        earlier = [outputs.done_before(item) for item in inputs]
        todo = [item for item, kept in zip(inputs, earlier, strict=True) if kept is None]
        outcomes = iter(estimate_files([item.path for item in todo], estimator, batch) if todo else ())
        bar = progress_bar(args.quiet, total=len(inputs), unit="img")
        for item, kept in zip(inputs, earlier, strict=True):
            bar.update()
            if kept is not None:
                outputs.results.append((item, kept))
                skipped += 1
                people += len(kept)
                more_seen += _left_out(kept)
                continue
            outcome = next(outcomes)
            if outcome.frame is None:
                failures += 1
                bar.write(f"localpose: {item.path}: {outcome.error}", file=sys.stderr)
                continue
            people += len(outcome.frame)
            more_seen += _left_out(outcome.frame)
            outputs.add(item, outcome.frame, outcome.overlay)
        bar.close()
        elapsed = time.perf_counter() - started
        outputs.finish()
        model_name = estimator.model.name
    done = len(outputs.results) - skipped
    if not args.quiet:
        per_image = f", {1000 * elapsed / done:.0f} ms/image" if done else ""
        where = f" -> {args.out}" if args.out else ""
        resumed = f", {skipped} done by an earlier run" if skipped else ""
        more = f", {more_seen} more seen: use -n" if more_seen else ""
        print(
            f"localpose: {done} image(s) processed{resumed}, {failures} failed, "
            f"{people} {'person' if people == 1 else 'people'} found{more}"
            f"{per_image} (model {model_name}){where}",
            file=sys.stderr,
        )
    return EXIT_FAILED_INPUTS if failures else EXIT_OK


def _left_out(frame: PoseFrame) -> int:
    """People the engine saw in the image beyond the `num_poses` it returned."""
    return max(0, (frame.people_seen or 0) - len(frame))
