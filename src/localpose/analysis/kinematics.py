"""OpenSim scaling and inverse kinematics on a TRC file, with Pose2Sim's BlazePose setup.

The only module that imports ``opensim``. It needs the optional extra
``pip install 'localpose[opensim]'`` (the ``opensim`` wheel: CPython 3.11 and 3.12 on PyPI)
and ``pip install --no-deps pose2sim`` (only its model and setup files are used; they are
located, the package is never imported). The steps, as Pose2Sim's kinematics stage does them:

1. Pose2Sim's ``Model_Pose2Sim_simple.osim`` with its ``Markers_BlazePose.xml`` marker set;
2. scaling by OpenSim's ``ScaleTool`` with ``Scaling_Setup_Pose2Sim_Blazepose.xml``: each
   segment is scaled by the ratio of measured to model marker distances (shoulder-hip,
   hip-knee, knee-ankle, ...), averaged over the trial (no marker placement);
3. inverse kinematics by OpenSim's ``InverseKinematicsTool`` with
   ``IK_Setup_Pose2Sim_Blazepose.xml`` (its marker weights), writing a MOT of the model's
   coordinates and a table of marker errors.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localpose.errors import InvalidInputError, InvalidOptionError
from localpose.export.mot import read_mot
from localpose.export.trc import read_trc

__all__ = ["KinematicsOptions", "KinematicsResult", "check_available", "pose2sim_setup_dir", "run_kinematics"]

_EXTRA = (
    "pip install 'localpose[opensim]' (opensim wheels exist for CPython 3.11 and 3.12) "
    "and pip install --no-deps pose2sim"
)


@dataclass(frozen=True)
class KinematicsOptions:
    """Subject data for the model and the OpenSim files to use."""

    mass_kg: float = 70.0
    """The scaled model's mass (kinematics do not depend on it)."""
    setup_dir: Path | None = None
    """A folder with Pose2Sim's OpenSim setup files; None: the installed pose2sim package's."""

    def __post_init__(self) -> None:
        if not 10.0 <= self.mass_kg <= 300.0:
            raise InvalidOptionError(f"mass must be 10 to 300 kg, got {self.mass_kg}")


@dataclass(frozen=True)
class KinematicsResult:
    """What scaling and inverse kinematics wrote, and how well the model followed the markers."""

    model: Path
    motion: Path
    marker_errors: Path
    marker_rms_m: np.ndarray
    """(T,) RMS distance between model and measured markers in each frame."""
    marker_max_m: np.ndarray
    """(T,) the largest marker distance in each frame."""


def _opensim():
    try:
        import opensim
    except ImportError:
        raise InvalidOptionError(f"OpenSim kinematics need the opensim package: {_EXTRA}") from None
    return opensim


def pose2sim_setup_dir() -> Path:
    """Pose2Sim's OpenSim_Setup folder inside the installed package (not imported, only located)."""
    spec = importlib.util.find_spec("Pose2Sim")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidOptionError(f"OpenSim kinematics need Pose2Sim's model and setup files: {_EXTRA}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "OpenSim_Setup"
    if not (folder / "Markers_BlazePose.xml").is_file():
        raise InvalidOptionError(f"{folder}: no Markers_BlazePose.xml; install pose2sim 0.10.49 or later")
    return folder


def check_available() -> Path:
    """Pose2Sim's setup folder, once opensim imports; a clear error naming the install otherwise."""
    folder = pose2sim_setup_dir()
    _opensim()
    return folder


def _times(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        raise InvalidInputError("the TRC file holds no frames")
    return float(values[0]), float(values[-1])


def run_kinematics(
    trc: str | Path, out_dir: str | Path, options: KinematicsOptions | None = None
) -> KinematicsResult:
    """Scale Pose2Sim's BlazePose model to the markers of `trc`, then run inverse kinematics."""
    opensim = _opensim()
    options = options or KinematicsOptions()
    setup = options.setup_dir or pose2sim_setup_dir()
    trc, out_dir = Path(trc).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    start, end = _times(read_trc(trc).times_s)
    stem = trc.stem
    opensim.Logger.setLevelString("error")
    opensim.ModelVisualizer.addDirToGeometrySearchPaths(str(setup / "Geometry"))

    generic = opensim.Model(str(setup / "Model_Pose2Sim_simple.osim"))
    generic.set_MarkerSet(opensim.MarkerSet(str(setup / "Markers_BlazePose.xml")))
    generic.initSystem()
    generic_path, scaled_path = out_dir / f"{stem}_generic.osim", out_dir / f"{stem}_scaled.osim"
    generic.printToXML(str(generic_path))

    scale = opensim.ScaleTool(str(setup / "Scaling_Setup_Pose2Sim_Blazepose.xml"))
    scale.setPathToSubject("")  # our paths are absolute; by default it prefixes the setup's folder
    scale.setSubjectMass(options.mass_kg)
    scale.getGenericModelMaker().setModelFileName(str(generic_path))
    scaler = scale.getModelScaler()
    scaler.setMarkerFileName(str(trc))
    span = opensim.ArrayDouble()
    span.append(start)
    span.append(end)
    scaler.setTimeRange(span)
    order = opensim.ArrayStr()
    order.append("measurements")
    scaler.setScalingOrder(order)
    scaler.setOutputModelFileName(str(scaled_path))
    scale.getMarkerPlacer().setApply(False)
    scale.run()  # returns False when marker placement is off, even on success: check the file
    if not scaled_path.is_file():
        raise InvalidInputError(f"{trc}: OpenSim could not scale the model to these markers")

    motion_path = out_dir / f"{stem}.ik.mot"
    ik = opensim.InverseKinematicsTool(str(setup / "IK_Setup_Pose2Sim_Blazepose.xml"))
    ik.set_model_file(str(scaled_path))
    ik.setMarkerDataFileName(str(trc))
    ik.setStartTime(start)
    ik.setEndTime(end)
    ik.setOutputMotionFileName(str(motion_path))
    ik.setResultsDir(str(out_dir))
    ik.set_report_errors(True)
    if not ik.run() or not motion_path.is_file():
        raise InvalidInputError(f"{trc}: OpenSim inverse kinematics failed")
    errors_path = out_dir / "_ik_marker_errors.sto"
    named = out_dir / f"{stem}.ik_marker_errors.sto"
    errors_path.replace(named)
    names, _, values = read_mot(named)
    return KinematicsResult(
        model=scaled_path,
        motion=motion_path,
        marker_errors=named,
        marker_rms_m=values[:, names.index("marker_error_RMS")],
        marker_max_m=values[:, names.index("marker_error_max")],
    )
