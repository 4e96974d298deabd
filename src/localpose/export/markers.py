"""Marker trajectories (what TRC and C3D files hold) and the marker names they use.

`POSE2SIM_MARKERS` names the landmarks as Pose2Sim's BlazePose marker set does
(``Markers_BlazePose.xml`` in the pose2sim package), so its OpenSim scaling and inverse
kinematics setups run on our files unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from localpose.errors import InvalidInputError

__all__ = ["POSE2SIM_MARKERS", "MarkerTrajectories"]

POSE2SIM_MARKERS: tuple[tuple[str, str], ...] = (
    ("Nose", "nose"),
    *(
        (f"{side[0].upper()}{marker}", f"{side}_{landmark}")
        for side in ("left", "right")
        for marker, landmark in (
            ("Eye", "eye"),
            ("Shoulder", "shoulder"),
            ("Elbow", "elbow"),
            ("Wrist", "wrist"),
            ("Hip", "hip"),
            ("Knee", "knee"),
            ("Ankle", "ankle"),
            ("BigToe", "foot_index"),
            ("Heel", "heel"),
            ("Thumb", "thumb"),
            ("Pinky", "pinky"),
            ("Index", "index"),
        )
    ),
)
"""(marker name, localpose landmark name): the 25 markers of Pose2Sim's BlazePose set."""


@dataclass(frozen=True, eq=False)
class MarkerTrajectories:
    """Named 3D points over time: positions (T, M, 3) in metres, NaN where a marker is missing."""

    names: tuple[str, ...]
    times_s: np.ndarray
    positions: np.ndarray

    def __post_init__(self) -> None:
        t, m = len(self.times_s), len(self.names)
        if self.positions.shape != (t, m, 3):
            raise InvalidInputError(f"positions must be ({t}, {m}, 3), got {self.positions.shape}")

    @property
    def frame_rate(self) -> float:
        steps = np.diff(self.times_s)
        return float(1.0 / np.median(steps)) if steps.size and np.median(steps) > 0 else 30.0

    def marker(self, name: str) -> np.ndarray:
        """(T, 3) trajectory of one marker."""
        return self.positions[:, self.names.index(name)]
