"""localpose: offline human pose estimation (MediaPipe BlazePose, 33 landmarks)."""

from localpose.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidInputError,
    InvalidOptionError,
    InvalidVideoError,
    LocalposeError,
    ModelUnavailableError,
)
from localpose.estimate import PoseEstimator, VideoPoseEstimator
from localpose.images import load_image
from localpose.models import ModelBundle, load_model
from localpose.options import EstimatorOptions, ImageLimits, ModelOptions
from localpose.result import Landmark, Person, PoseFrame, WorldLandmark
from localpose.schema import LANDMARK_NAMES, SKELETON_EDGES

__version__ = "0.1.0"

__all__ = [
    "LANDMARK_NAMES",
    "SKELETON_EDGES",
    "EstimatorOptions",
    "ImageLimits",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidInputError",
    "InvalidOptionError",
    "InvalidVideoError",
    "Landmark",
    "LocalposeError",
    "ModelBundle",
    "ModelOptions",
    "ModelUnavailableError",
    "Person",
    "PoseEstimator",
    "PoseFrame",
    "VideoPoseEstimator",
    "WorldLandmark",
    "__version__",
    "load_image",
    "load_model",
]
