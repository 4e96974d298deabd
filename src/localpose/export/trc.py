"""TRC marker files (OpenSim's and Pose2Sim's layout): tab-separated, one row per frame.

Five header lines (file type, the rate/count/units line, marker names, X1 Y1 Z1 ...), then
``Frame#  Time  x y z ...`` per frame, metres. Missing markers are written as NaN, which
OpenSim's reader takes as missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from localpose.errors import InvalidInputError
from localpose.export.markers import MarkerTrajectories

__all__ = ["read_trc", "write_trc"]

_RATE_LINE = (
    "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames"
)


def write_trc(path: str | Path, markers: MarkerTrajectories) -> None:
    """Write marker trajectories (metres) as a TRC file."""
    path = Path(path)
    t, m = markers.positions.shape[:2]
    rate = f"{markers.frame_rate:.6g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        _RATE_LINE,
        "\t".join([rate, rate, str(t), str(m), "m", rate, "1", str(t)]),
        "Frame#\tTime\t" + "\t\t\t".join(markers.names) + "\t\t",
        "\t\t" + "\t".join(f"X{k}\tY{k}\tZ{k}" for k in range(1, m + 1)),
        "",
    ]
    values = markers.positions.reshape(t, m * 3)
    for k in range(t):
        numbers = "\t".join("NaN" if not np.isfinite(v) else f"{v:.6f}" for v in values[k])
        lines.append(f"{k + 1}\t{markers.times_s[k]:.6f}\t{numbers}")
    path.write_text("\n".join(lines) + "\n")


def read_trc(path: str | Path) -> MarkerTrajectories:
    """Read a TRC file (metres or millimetres; millimetres are converted to metres)."""
    rows = Path(path).read_text().splitlines()
    if len(rows) < 5 or not rows[0].startswith("PathFileType") or not rows[1].startswith("DataRate"):
        raise InvalidInputError(f"{path}: not a TRC file (no PathFileType / DataRate header)")
    header = dict(zip(rows[1].split("\t"), rows[2].split("\t"), strict=False))
    names = tuple(n for n in rows[3].split("\t")[2:] if n.strip())
    unit = {"m": 1.0, "mm": 0.001, "cm": 0.01}.get(header.get("Units", "m").strip(), 1.0)
    data = [r.split("\t") for r in rows[5:] if r.strip()]
    width = 2 + 3 * len(names)
    if any(len(r) < width for r in data):
        raise InvalidInputError(f"{path}: a data row has fewer than {width} fields")
    table = np.array([[float(v) if v.strip() else np.nan for v in r[:width]] for r in data])
    table = table.reshape(len(data), width) if data else np.zeros((0, width))
    positions = table[:, 2:].reshape(len(data), len(names), 3) * unit
    return MarkerTrajectories(names, table[:, 1], positions)
