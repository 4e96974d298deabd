"""C3D marker files through ezc3d (a kept C3D library; install with ``pip install 'localpose[c3d]'``).

Points in metres (``POINT:UNITS`` = m), ``POINT:RATE`` from the frame times, marker names in
``POINT:LABELS``; a missing marker is NaN, which ezc3d writes with a negative residual.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from localpose.errors import InvalidOptionError
from localpose.export.markers import MarkerTrajectories

__all__ = ["check_available", "read_c3d", "write_c3d"]


def _ezc3d():
    try:
        import ezc3d
    except ImportError:
        raise InvalidOptionError("C3D files need ezc3d: pip install 'localpose[c3d]'") from None
    return ezc3d


def check_available() -> None:
    """Raise the one-line `InvalidOptionError` now, before any work, when ezc3d is missing."""
    _ezc3d()


def write_c3d(path: str | Path, markers: MarkerTrajectories) -> None:
    """Write marker trajectories (metres) as a C3D file."""
    ezc3d = _ezc3d()
    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [markers.frame_rate]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = list(markers.names)
    c3d["parameters"]["POINT"]["UNITS"]["value"] = ["m"]
    points = np.ones((4, len(markers.names), markers.positions.shape[0]))
    points[:3] = np.transpose(markers.positions, (2, 1, 0))
    c3d["data"]["points"] = points
    c3d.write(str(path))


def read_c3d(path: str | Path) -> MarkerTrajectories:
    """Read the points of a C3D file (converted to metres when written in millimetres)."""
    ezc3d = _ezc3d()
    c3d = ezc3d.c3d(str(path))
    point = c3d["parameters"]["POINT"]
    unit = {"mm": 0.001, "cm": 0.01}.get(str(point["UNITS"]["value"][0]).strip(), 1.0)
    rate = float(point["RATE"]["value"][0])
    points = np.asarray(c3d["data"]["points"])[:3] * unit
    frames = points.shape[2]
    return MarkerTrajectories(
        tuple(point["LABELS"]["value"]), np.arange(frames) / rate, np.transpose(points, (2, 1, 0))
    )
