"""Joint angles of one person over time, as curves to plot (the WebUI's video angle chart).

The angle definitions are `localpose.analysis.angles`; this only stacks them for one person
of a sequence (its main track unless told otherwise) with the frame times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from localpose.analysis.angles import JOINT_ANGLE_NAMES, Space, compute_angles
from localpose.analysis.series import PersonSeries
from localpose.result import PoseFrame

__all__ = ["AngleCurves", "angle_curves"]


@dataclass(frozen=True)
class AngleCurves:
    """Angles (T, K) in degrees of one person at T frame times; NaN where not measured."""

    track_id: int | None
    space: Space
    timestamps_ms: np.ndarray
    names: tuple[str, ...]
    degrees: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"angles": {name: [degrees or None, ...]}, "timestamps_ms": [...], ...}``."""
        rounded = np.round(self.degrees, 2)
        return {
            "track_id": self.track_id,
            "space": self.space,
            "timestamps_ms": [round(float(t), 3) for t in self.timestamps_ms],
            "angles": {
                name: [None if not np.isfinite(v) else float(v) for v in rounded[:, k]]
                for k, name in enumerate(self.names)
            },
        }


def angle_curves(
    frames: Sequence[PoseFrame] | PersonSeries,
    track_id: int | None = None,
    space: Space = "world",
    names: Sequence[str] = JOINT_ANGLE_NAMES,
    min_visibility: float = 0.5,
) -> AngleCurves:
    """The angles `names` of one person (a track, else the main one) in every frame."""
    series = frames if isinstance(frames, PersonSeries) else PersonSeries.from_frames(frames, track_id)
    landmarks = series.world if space == "world" else series.xy
    degrees = compute_angles(landmarks, series.visibility, space, min_visibility, names)
    degrees = np.where(series.present[:, None], degrees, np.nan)
    return AngleCurves(series.track_id, space, series.timestamps_ms, tuple(names), degrees)
