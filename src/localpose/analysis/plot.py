"""PNG plots of angles and repetitions over time (matplotlib's Agg canvas, no pyplot state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from localpose.analysis.angles import Space, angle_index, compute_angles
from localpose.analysis.reps import RepReport
from localpose.analysis.series import PersonSeries
from localpose.errors import MissingExtraError
from localpose.result import PoseFrame

__all__ = ["ANGLE_PANELS", "angle_series", "plot_angles", "plot_reps"]

ANGLE_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("knee flexion", ("left_knee", "right_knee")),
    ("hip flexion", ("left_hip", "right_hip")),
    ("ankle dorsiflexion", ("left_ankle", "right_ankle")),
    ("shoulder elevation", ("left_shoulder", "right_shoulder")),
    ("elbow flexion", ("left_elbow", "right_elbow")),
    ("wrist flexion", ("left_wrist", "right_wrist")),
    ("trunk, pelvis, shoulders", ("trunk", "pelvis", "shoulders")),
    (
        "thigh, shank, foot",
        ("left_thigh", "right_thigh", "left_shank", "right_shank", "left_foot", "right_foot"),
    ),
    ("arm, forearm", ("left_arm", "right_arm", "left_forearm", "right_forearm")),
)
"""How `plot_angles` groups the angles, one panel each."""


def angle_series(
    frames: Sequence[PoseFrame] | PersonSeries, space: Space = "image", min_visibility: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Time in seconds (T,) and angles (T, K) of one person (NaN where absent or not measured)."""
    series = frames if isinstance(frames, PersonSeries) else PersonSeries.from_frames(frames)
    landmarks = series.xy if space == "image" else series.world
    values = compute_angles(np.nan_to_num(landmarks), series.visibility, space, min_visibility)
    values[~series.present] = np.nan
    return (series.timestamps_ms - series.timestamps_ms[0]) / 1000.0, values


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from importlib.util import find_spec

    if find_spec("matplotlib") is None:
        raise MissingExtraError("PNG plots need matplotlib: pip install 'localpose[plot]'")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure, FigureCanvasAgg(figure)


def plot_angles(
    frames: Sequence[PoseFrame] | PersonSeries,
    path: str | Path,
    space: Space = "image",
    title: str = "",
    min_visibility: float = 0.5,
) -> Path:
    """Plot every angle over time, grouped in `ANGLE_PANELS`, to a PNG file."""
    seconds, values = angle_series(frames, space, min_visibility)
    figure, canvas = _figure(15, 10)
    axes = figure.subplots(3, 3, sharex=True)
    for ax, (label, names) in zip(axes.flat, ANGLE_PANELS, strict=True):
        for name in names:
            style = "--" if name.startswith("right_") else "-"
            ax.plot(seconds, values[:, angle_index(name)], style, label=name, linewidth=1.2)
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("degrees")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    unit = "2D, image" if space == "image" else "3D, world"
    figure.suptitle(f"{title} joint and segment angles ({unit})".strip())
    out = Path(path)
    canvas.print_png(str(out))
    return out


def plot_reps(report: RepReport, path: str | Path, title: str = "") -> Path:
    """Plot the counting signal, thresholds and every repetition (full green, partial orange) to a PNG."""
    figure, canvas = _figure(12, 4.5)
    ax = figure.subplots()
    t0 = report.timestamps_ms[0] if report.timestamps_ms.size else 0.0
    seconds = (report.timestamps_ms - t0) / 1000.0
    spec = report.exercise
    for rep in report.items:
        color = "tab:green" if rep.complete else "tab:orange"
        ax.axvspan((rep.start_ms - t0) / 1000.0, (rep.end_ms - t0) / 1000.0, color=color, alpha=0.15)
        label = f"{rep.index + 1}" if rep.complete else f"{rep.index + 1} ({rep.reason})"
        if rep.flags:
            label += "\n" + ", ".join(rep.flags)
        ax.annotate(label, ((rep.peak_ms - t0) / 1000.0, rep.peak_deg), fontsize=8, ha="center", va="bottom")
    ax.plot(seconds, report.raw, ".", color="0.6", markersize=3, label="measured")
    ax.plot(seconds, report.smoothed, "-", color="tab:blue", linewidth=1.5, label="smoothed")
    for value, name, style in (
        (spec.rest, "rest", ":"),
        (spec.start, "start", "--"),
        (spec.peak, "peak", "-."),
    ):
        ax.axhline(value, color="0.3", linestyle=style, linewidth=1, label=f"{name} {value:g}°")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("degrees")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(
        f"{title} {spec.name}: {report.reps} reps, {report.partial} partial — {spec.description}".strip()
    )
    out = Path(path)
    canvas.print_png(str(out))
    return out
