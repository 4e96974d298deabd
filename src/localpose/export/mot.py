"""MOT files (OpenSim's motion / storage layout): joint angles over time, tab-separated.

A short header (name, ``version=1``, ``nRows``, ``nColumns``, ``inDegrees=yes``, ``endheader``)
then a ``time`` column and one column per angle. Angles that were not measured are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from localpose.errors import InvalidInputError

__all__ = ["read_mot", "write_mot"]


def write_mot(path: str | Path, names: Sequence[str], times_s: np.ndarray, values: np.ndarray) -> None:
    """Write (T, K) angles in degrees named `names` at `times_s` as a MOT file."""
    path = Path(path)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(times_s), len(names)):
        raise InvalidInputError(f"values must be ({len(times_s)}, {len(names)}), got {values.shape}")
    lines = [
        path.stem,
        "version=1",
        f"nRows={values.shape[0]}",
        f"nColumns={values.shape[1] + 1}",
        "inDegrees=yes",
        "endheader",
        "\t".join(["time", *names]),
    ]
    for t, row in zip(times_s, values, strict=True):
        cells = ("NaN" if not np.isfinite(v) else f"{v:.6f}" for v in row)
        lines.append("\t".join([f"{t:.6f}", *cells]))
    path.write_text("\n".join(lines) + "\n")


def read_mot(path: str | Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(column names without time, times (T,), values (T, K)) of a MOT or STO file."""
    rows = Path(path).read_text().splitlines()
    try:
        end = next(k for k, r in enumerate(rows) if r.strip().lower() == "endheader")
    except StopIteration:
        raise InvalidInputError(f"{path}: not a MOT file (no endheader line)") from None
    head = rows[end + 1].split("\t")
    if not head or head[0].strip().lower() != "time":
        raise InvalidInputError(f"{path}: the first column after the header must be time")
    table = np.array([[float(v) for v in r.split("\t")] for r in rows[end + 2 :] if r.strip()])
    table = table.reshape(-1, len(head))
    return tuple(h.strip() for h in head[1:]), table[:, 0], table[:, 1:]
