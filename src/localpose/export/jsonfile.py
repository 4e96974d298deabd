"""localpose JSON (one frame per document) and JSON Lines (one frame per line).

Schema "localpose/pose-frame", version 1; docs/formats.md describes every field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from localpose.result import PoseFrame
from localpose.schema import LANDMARK_NAMES, NUM_LANDMARKS

__all__ = [
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "frame_from_dict",
    "frame_to_dict",
    "read_json",
    "read_jsonl",
    "write_json",
    "write_jsonl",
]

SCHEMA_NAME = "localpose/pose-frame"
SCHEMA_VERSION = 1

_PX = 3  # decimals: pixels to a thousandth, normalised and relative values to 1e-6
_UNIT = 6
_METRES = 5


def _r(value: float, digits: int) -> float:
    return round(float(value), digits)


def frame_to_dict(
    frame: PoseFrame,
    source: str | None = None,
    frame_index: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready dict of one frame (schema localpose/pose-frame v1)."""
    boxes = frame.boxes
    norm = frame.xy_norm
    people = []
    for i in range(len(frame)):
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        people.append(
            {
                "index": i,
                "track_id": None if frame.track_id[i] < 0 else int(frame.track_id[i]),
                "score": _r(frame.score[i], 4),
                "bbox": [_r(x1, _PX), _r(y1, _PX), _r(x2 - x1, _PX), _r(y2 - y1, _PX)],
                "flags": list(frame.flags[i]),
                "landmarks": [
                    {
                        "name": name,
                        "x": _r(frame.xy[i, k, 0], _PX),
                        "y": _r(frame.xy[i, k, 1], _PX),
                        "x_norm": _r(norm[i, k, 0], _UNIT),
                        "y_norm": _r(norm[i, k, 1], _UNIT),
                        "z": _r(frame.z[i, k], _UNIT),
                        "visibility": _r(frame.visibility[i, k], 4),
                        "presence": _r(frame.presence[i, k], 4),
                    }
                    for k, name in enumerate(LANDMARK_NAMES)
                ],
                "world_landmarks": [
                    {
                        "name": name,
                        "x": _r(frame.world[i, k, 0], _METRES),
                        "y": _r(frame.world[i, k, 1], _METRES),
                        "z": _r(frame.world[i, k, 2], _METRES),
                    }
                    for k, name in enumerate(LANDMARK_NAMES)
                ],
            }
        )
    out: dict[str, Any] = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION}
    if source is not None:
        out["source"] = source
    if frame_index is not None:
        out["frame_index"] = frame_index
    out.update(
        {
            "image": {"width": frame.width, "height": frame.height},
            "timestamp_ms": _r(frame.timestamp_ms, 3),
            "people": people,
        }
    )
    if extra:
        out.update(extra)
    return out


def frame_from_dict(data: dict[str, Any]) -> PoseFrame:
    """Rebuild a frame from `frame_to_dict` output (checks schema name and version)."""
    if data.get("schema") != SCHEMA_NAME:
        raise ValueError(f"not a localpose pose frame (schema {data.get('schema')!r})")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"unsupported schema_version {data.get('schema_version')!r}; this reader knows {SCHEMA_VERSION}"
        )
    people = data["people"]
    n = len(people)
    image = np.zeros((n, NUM_LANDMARKS, 5), dtype=np.float32)
    world = np.zeros((n, NUM_LANDMARKS, 3), dtype=np.float32)
    for i, person in enumerate(people):
        image[i] = [
            (lm["x"], lm["y"], lm["z"], lm["visibility"], lm["presence"]) for lm in person["landmarks"]
        ]
        world[i] = [(lm["x"], lm["y"], lm["z"]) for lm in person["world_landmarks"]]
    return PoseFrame(
        image_size=(data["image"]["width"], data["image"]["height"]),
        xy=image[:, :, :2],
        z=image[:, :, 2],
        visibility=image[:, :, 3],
        presence=image[:, :, 4],
        world=world,
        score=[p["score"] for p in people],
        track_id=[-1 if p["track_id"] is None else p["track_id"] for p in people],
        timestamp_ms=data.get("timestamp_ms", 0.0),
        flags=[p.get("flags", []) for p in people],
    )


def write_json(path: str | Path, frame: PoseFrame, source: str | None = None) -> None:
    """Write one frame as an indented JSON document."""
    Path(path).write_text(json.dumps(frame_to_dict(frame, source), indent=1) + "\n")


def read_json(path: str | Path) -> PoseFrame:
    return frame_from_dict(json.loads(Path(path).read_text()))


def write_jsonl(
    stream: IO[str], frames: Iterable[PoseFrame], source: str | None = None, start_index: int = 0
) -> int:
    """Append frames to a text stream, one compact JSON document per line; returns the count."""
    count = 0
    for count, frame in enumerate(frames, start=1):
        record = frame_to_dict(frame, source, frame_index=start_index + count - 1)
        stream.write(json.dumps(record, separators=(",", ":")) + "\n")
    return count


def read_jsonl(path: str | Path) -> Iterator[PoseFrame]:
    with Path(path).open() as stream:
        for line in stream:
            if line.strip():
                yield frame_from_dict(json.loads(line))
