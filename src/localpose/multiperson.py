"""Finding several people in one image (placeholder: one plain pass)."""

from __future__ import annotations

import numpy as np

from localpose.engine import PoseEngine
from localpose.result import PoseFrame

__all__ = ["search_people"]


def search_people(engine: PoseEngine, rgb: np.ndarray, num_poses: int) -> PoseFrame:
    """Up to num_poses people in an RGB image."""
    return engine.process(rgb)[:num_poses]
