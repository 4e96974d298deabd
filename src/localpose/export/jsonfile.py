"""localpose JSON (one frame per document) and JSON Lines (one frame per line).

Schema "localpose/pose-frame", version 1; docs/formats.md describes every field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from localpose.errors import InvalidInputError
from localpose.result import PoseFrame
from localpose.schema import DEFAULT_SKELETON, skeleton

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


def _rounded(values: np.ndarray, digits: int) -> list:
    """Nested lists of Python floats rounded to `digits` decimals (one numpy call, not one per value)."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def frame_to_dict(
    frame: PoseFrame,
    source: str | None = None,
    frame_index: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready dict of one frame (schema localpose/pose-frame v1)."""
    corners = frame.boxes.astype(np.float64)
    boxes = _rounded(np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1), _PX)
    xy, norm = _rounded(frame.xy, _PX), _rounded(frame.xy_norm, _UNIT)
    z, world = _rounded(frame.z, _UNIT), _rounded(frame.world, _METRES)
    visibility, presence = _rounded(frame.visibility, 4), _rounded(frame.presence, 4)
    scores = _rounded(frame.score, 4)
    names = frame.layout.names
    people = []
    for i in range(len(frame)):
        people.append(
            {
                "index": i,
                "track_id": None if frame.track_id[i] < 0 else int(frame.track_id[i]),
                "score": scores[i],
                "bbox": boxes[i],  # x, y, width, height
                "flags": list(frame.flags[i]),
                "landmarks": [
                    {
                        "name": name,
                        "x": x,
                        "y": y,
                        "x_norm": xn,
                        "y_norm": yn,
                        "z": zk,
                        "visibility": v,
                        "presence": pr,
                    }
                    for name, (x, y), (xn, yn), zk, v, pr in zip(
                        names, xy[i], norm[i], z[i], visibility[i], presence[i], strict=True
                    )
                ],
            }
        )
        if frame.has_world:  # a 2D model (coco17) has none: the key is left out
            people[-1]["world_landmarks"] = [
                {"name": name, "x": wx, "y": wy, "z": wz}
                for name, (wx, wy, wz) in zip(names, world[i], strict=True)
            ]
    out: dict[str, Any] = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION}
    if source is not None:
        out["source"] = source
    if frame_index is not None:
        out["frame_index"] = frame_index
    out.update(
        {
            "image": {"width": frame.width, "height": frame.height},
            "skeleton": frame.skeleton,
            "timestamp_ms": _r(frame.timestamp_ms, 3),
            "people": people,
        }
    )
    if frame.people_seen is not None and frame.people_seen > len(frame):
        out["people_seen"] = frame.people_seen  # more people than num_poses kept
    if extra:
        out.update(extra)
    return out


def frame_from_dict(data: dict[str, Any]) -> PoseFrame:
    """Rebuild a frame from `frame_to_dict` output (checks schema name and version).

    Anything that is not such a document is an `InvalidInputError` naming the field at fault.
    """
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
        schema = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InvalidInputError(f"not a localpose pose frame (schema {schema!r})")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InvalidInputError(
            f"unsupported schema_version {data.get('schema_version')!r}; this reader knows {SCHEMA_VERSION}"
        )
    try:
        return _frame_from_dict(data)
    except KeyError as exc:
        raise InvalidInputError(f"a localpose pose frame without its {exc.args[0]!r} field") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise InvalidInputError(f"a localpose pose frame with a malformed field ({exc})") from None


def _frame_from_dict(data: dict[str, Any]) -> PoseFrame:
    people = data["people"]
    n = len(people)
    layout = skeleton(data.get("skeleton", DEFAULT_SKELETON))  # written since the coco17 skeleton
    image = np.zeros((n, len(layout), 5), dtype=np.float32)
    world = np.zeros((n, len(layout), 3), dtype=np.float32)
    for i, person in enumerate(people):
        image[i] = [
            (lm["x"], lm["y"], lm["z"], lm["visibility"], lm["presence"]) for lm in person["landmarks"]
        ]
        if layout.world:
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
        skeleton=layout.name,
        people_seen=data.get("people_seen"),
    )


def write_json(path: str | Path, frame: PoseFrame, source: str | None = None) -> None:
    """Write one frame as an indented JSON document."""
    Path(path).write_text(json.dumps(frame_to_dict(frame, source), indent=1) + "\n")


def read_json(path: str | Path) -> PoseFrame:
    """One frame from a localpose JSON file; InvalidInputError names the file and what is wrong."""
    try:
        return frame_from_dict(json.loads(Path(path).read_text()))
    except (InvalidInputError, ValueError) as exc:  # ValueError: not JSON at all
        raise InvalidInputError(f"{path}: {exc}") from None


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
    """The frames of a localpose JSON Lines file; InvalidInputError names the file and the line."""
    with Path(path).open() as stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                try:
                    frame = frame_from_dict(json.loads(line))
                except (InvalidInputError, ValueError) as exc:
                    raise InvalidInputError(f"{path}, line {number}: {exc}") from None
                yield frame
