"""localpose: offline human pose estimation on your own CPU (BlazePose, 33 landmarks per person).

Nothing touches the network at run time: images never leave the machine.

Where to start:

- ``PoseEstimator().estimate(image)`` takes a file path, encoded bytes, an RGB numpy array or
  a PIL image and returns a ``PoseFrame``: every person's landmarks as arrays (``xy`` pixels,
  ``world`` metres, ``visibility``, ``score``), or one ``Person`` at a time by iterating it.
- ``localpose.video.process_video`` tracks and smooths the people in a video and writes an
  annotated MP4 and keypoint files; ``localpose.batch.estimate_files`` runs many images on
  every core.
- ``localpose.analysis`` (joint angles, repetitions, similarity), ``localpose.draw``
  (skeleton overlays) and ``localpose.export`` (JSON, CSV, COCO, OpenPose).
- The same features as a command (``localpose --help``) and a local web service with a
  WebUI (``localpose serve``).

Example::

    from localpose import PoseEstimator

    with PoseEstimator() as estimator:
        frame = estimator.estimate("photo.jpg")
    for person in frame:
        print(person.landmark("left_knee"))
"""

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
