"""CSV in long layout: one row per (frame, person, landmark).

A frame without people still gets one row, with the person and landmark fields empty, so
the frame count survives. Columns are `CSV_COLUMNS`; docs/formats.md explains them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np

from localpose.errors import InvalidInputError
from localpose.result import PoseFrame
from localpose.schema import SKELETONS, Skeleton

__all__ = ["CSV_COLUMNS", "read_csv", "write_csv"]

CSV_COLUMNS = (
    "source",
    "frame_index",
    "timestamp_ms",
    "image_width",
    "image_height",
    "person",
    "track_id",
    "score",
    "flags",
    "landmark_index",
    "landmark",
    "x",
    "y",
    "x_norm",
    "y_norm",
    "z",
    "visibility",
    "presence",
    "world_x",
    "world_y",
    "world_z",
)


_NUMBERS = ",".join(["%.3f", "%.3f", "%.6f", "%.6f", "%.6f", "%.4f", "%.4f", "%.5f", "%.5f", "%.5f"])
"""x, y, x_norm, y_norm, z, visibility, presence, world x, y, z: the decimals of each column."""


def _text(fields: list[object]) -> str:
    """Fields as one CSV line's worth of text (quoted where needed), without the line end."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def _lines(frame: PoseFrame, source: str, frame_index: int) -> Iterable[str]:
    """The frame's CSV lines (one per person and landmark), formatted a person at a time."""
    head = [source, frame_index, f"{frame.timestamp_ms:.3f}", frame.width, frame.height]
    if len(frame) == 0:
        yield _text(head + [""] * (len(CSV_COLUMNS) - len(head)))
        return
    numbers = np.concatenate(
        [
            frame.xy,
            frame.xy_norm,
            frame.z[..., None],
            frame.visibility[..., None],
            frame.presence[..., None],
            frame.world,
        ],
        axis=-1,
    ).astype(np.float64)
    names = [_text([name]) for name in frame.layout.names]
    # a 2D model (coco17) has no world landmarks: its world columns are empty
    numbers_format, width = (_NUMBERS, 10) if frame.has_world else (_NUMBERS_2D, 7)
    for i in range(len(frame)):
        track = "" if frame.track_id[i] < 0 else int(frame.track_id[i])
        prefix = _text([*head, i, track, f"{frame.score[i]:.4f}", "|".join(frame.flags[i])])
        for k, row in enumerate(numbers[i].tolist()):
            yield f"{prefix},{k},{names[k]},{numbers_format % tuple(row[:width])}"


_NUMBERS_2D = _NUMBERS.rsplit(",", 3)[0] + ",,,"
"""The first seven columns' decimals and empty world columns."""


def _skeleton_of(rows: list[dict[str, str]]) -> Skeleton:
    """The skeleton whose keypoint names the rows carry at their indices (BlazePose's by default)."""
    for layout in SKELETONS.values():
        named = ((int(r["landmark_index"]), r["landmark"]) for r in rows)
        if all(k < len(layout) and layout.names[k] == name for k, name in named):
            return layout
    raise InvalidInputError(f"unknown landmark names in a localpose CSV: {rows[0]['landmark']!r}")


def write_csv(
    stream: IO[str],
    frames: Iterable[PoseFrame],
    source: str = "",
    start_index: int = 0,
    header: bool = True,
) -> int:
    """Write frames to a text stream (open it with newline=''); returns the frame count."""
    if header:
        csv.writer(stream).writerow(CSV_COLUMNS)
    count = 0
    for count, frame in enumerate(frames, start=1):
        stream.write("".join(line + "\r\n" for line in _lines(frame, source, start_index + count - 1)))
    return count


def read_csv(path: str | Path) -> list[tuple[str, int, PoseFrame]]:
    """(source, frame_index, frame) for every frame in a localpose CSV, in file order."""
    grouped: dict[tuple[str, int], list[dict[str, str]]] = {}
    with Path(path).open(newline="") as stream:
        reader = csv.DictReader(stream)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise InvalidInputError(f"{path}: not a localpose CSV: missing columns {sorted(missing)}")
        for row in reader:
            try:
                grouped.setdefault((row["source"], int(row["frame_index"])), []).append(row)
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"{path}, line {reader.line_num}: frame_index is not a number"
                ) from None
    frames = []
    for (source, index), rows in grouped.items():
        try:
            frames.append((source, index, _frame(rows)))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path}, frame {index}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{path}, frame {index}: a malformed value ({exc})") from None
    return frames


def _frame(rows: list[dict[str, str]]) -> PoseFrame:
    first = rows[0]
    size = (int(first["image_width"]), int(first["image_height"]))
    timestamp = float(first["timestamp_ms"])
    people = [r for r in rows if r["person"] != ""]
    if not people:
        return PoseFrame.empty(size, timestamp)
    layout = _skeleton_of(people)
    n = max(int(r["person"]) for r in people) + 1
    values = np.zeros((n, len(layout), 8), dtype=np.float32)
    score = np.zeros(n, dtype=np.float32)
    track = np.full(n, -1, dtype=np.int64)
    flags: list[tuple[str, ...]] = [()] * n
    for r in people:
        i, k = int(r["person"]), int(r["landmark_index"])
        values[i, k] = [
            float(r[c] or 0)
            for c in ("x", "y", "z", "visibility", "presence", "world_x", "world_y", "world_z")
        ]
        score[i] = float(r["score"])
        track[i] = int(r["track_id"]) if r["track_id"] else -1
        flags[i] = tuple(f for f in r["flags"].split("|") if f)
    return PoseFrame(
        image_size=size,
        xy=values[:, :, 0:2],
        z=values[:, :, 2],
        visibility=values[:, :, 3],
        presence=values[:, :, 4],
        world=values[:, :, 5:8],
        score=score,
        track_id=track,
        timestamp_ms=timestamp,
        flags=flags,
        skeleton=layout.name,
    )
