"""Every error localpose raises on purpose.

    LocalposeError                 base; `code` is a stable machine-readable string
    ├── ModelUnavailableError      weights missing or unreadable (how to fix is in the message)
    ├── InvalidInputError          the caller's data cannot be used
    │   ├── InvalidImageError      not an image, unsupported, truncated or corrupt
    │   ├── ImageTooLargeError     over the byte or pixel limit (decompression bombs)
    │   ├── InvalidVideoError      no decodable video stream
    │   └── NoWorldLandmarksError  3D work (BVH, world angles) asked of a 2D model's poses
    ├── InvalidOptionError         an option value out of range
    ├── MissingExtraError          an optional dependency (a localpose[...] extra) is not installed
    └── BusyError                  no capacity right now; retry later

Faces map these to user messages (CLI) and HTTP status codes (server) in one place each.
"""

from __future__ import annotations

__all__ = [
    "BusyError",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidInputError",
    "InvalidOptionError",
    "InvalidVideoError",
    "LocalposeError",
    "MissingExtraError",
    "ModelUnavailableError",
    "NoWorldLandmarksError",
]


class LocalposeError(Exception):
    """Base of all localpose errors."""

    code = "localpose_error"


class ModelUnavailableError(LocalposeError):
    """The pose model cannot be found, built or loaded."""

    code = "model_unavailable"


class InvalidInputError(LocalposeError):
    """The input data cannot be used."""

    code = "invalid_input"


class InvalidImageError(InvalidInputError):
    """Not a supported image, or the image data is truncated or corrupt."""

    code = "invalid_image"


class ImageTooLargeError(InvalidInputError):
    """The image is over the configured byte or pixel limit."""

    code = "image_too_large"


class InvalidVideoError(InvalidInputError):
    """The file holds no decodable video stream."""

    code = "invalid_video"


class NoWorldLandmarksError(InvalidInputError):
    """Something that needs world landmarks (metres) got a 2D model's keypoints."""

    code = "no_world_landmarks"

    def __init__(self, what: str, skeleton: str) -> None:
        super().__init__(
            f"{what} needs world landmarks (3D), and {skeleton} poses from a 2D model have none: "
            "use a BlazePose model (--model full, lite or heavy)"
        )


class InvalidOptionError(LocalposeError, ValueError):
    """An option is outside its allowed range."""

    code = "invalid_option"


class MissingExtraError(LocalposeError):
    """A feature needs an optional dependency; the message names the extra to install."""

    code = "missing_extra"


class BusyError(LocalposeError):
    """All estimators are busy and the queue is full."""

    code = "busy"
