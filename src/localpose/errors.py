"""Every error localpose raises on purpose, each with its code, exit code and HTTP status.

    LocalposeError                 base; `code` is a stable machine-readable string
    ├── ModelUnavailableError      weights missing or unreadable (how to fix is in the message)
    ├── InvalidInputError          the caller's data cannot be used
    │   ├── InvalidImageError      not an image, unsupported, truncated or corrupt
    │   ├── ImageTooLargeError     over the byte or pixel limit (decompression bombs)
    │   ├── InvalidVideoError      no decodable video stream
    │   ├── BodyTimeoutError       the client stopped sending its request body
    │   └── NoWorldLandmarksError  3D work (BVH, world angles) asked of a 2D model's poses
    ├── InvalidOptionError         an option value out of range
    ├── MissingExtraError          an optional dependency (a localpose[...] extra) is not installed
    ├── NotFoundError              a stored job (or its file) does not exist
    │   └── JobNotFoundError       no video job with that id (or it expired)
    ├── StorageFullError           no room left for stored video jobs
    ├── RequestTimeoutError        a request took longer than its timeout
    ├── EstimatorFailedError       the estimator failed unexpectedly (details in the log)
    └── BusyError                  no capacity right now; retry later
        └── WorkerLostError        the worker process or Ray actor running the work died

Each class states what the faces do with it: `exit_code` for the CLI (0 all inputs done, 1
some inputs failed, 2 bad arguments or no usable model) and `http_status` for the server.
The faces map through these attributes, nowhere else.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED_INPUTS",
    "EXIT_OK",
    "EXIT_USAGE",
    "BodyTimeoutError",
    "BusyError",
    "EstimatorFailedError",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidInputError",
    "InvalidOptionError",
    "InvalidVideoError",
    "JobNotFoundError",
    "LocalposeError",
    "MissingExtraError",
    "ModelUnavailableError",
    "NoWorldLandmarksError",
    "NotFoundError",
    "RequestTimeoutError",
    "StorageFullError",
    "WorkerLostError",
]

EXIT_OK = 0
EXIT_FAILED_INPUTS = 1
"""Some inputs could not be processed (the others were, and their outputs written)."""
EXIT_USAGE = 2
"""Bad arguments or a failure before any input was processed (e.g. no model)."""


class LocalposeError(Exception):
    """Base of all localpose errors."""

    code = "localpose_error"
    exit_code = EXIT_USAGE
    http_status = 500


class ModelUnavailableError(LocalposeError):
    """The pose model cannot be found, built or loaded."""

    code = "model_unavailable"
    exit_code = EXIT_USAGE
    http_status = 503


class InvalidInputError(LocalposeError):
    """The input data cannot be used."""

    code = "invalid_input"
    exit_code = EXIT_FAILED_INPUTS
    http_status = 400


class InvalidImageError(InvalidInputError):
    """Not a supported image, or the image data is truncated or corrupt."""

    code = "invalid_image"
    http_status = 422


class ImageTooLargeError(InvalidInputError):
    """The image is over the configured byte or pixel limit."""

    code = "image_too_large"
    http_status = 413


class InvalidVideoError(InvalidInputError):
    """The file holds no decodable video stream."""

    code = "invalid_video"
    http_status = 422


class NoWorldLandmarksError(InvalidInputError):
    """Something that needs world landmarks (metres) got a 2D model's keypoints."""

    code = "no_world_landmarks"

    def __init__(self, what: str, skeleton: str) -> None:
        super().__init__(
            f"{what} needs world landmarks (3D), and {skeleton} poses from a 2D model have none: "
            "use a BlazePose model (--model full, lite or heavy)"
        )


class BodyTimeoutError(InvalidInputError):
    """The client stopped sending its request body."""

    code = "body_timeout"
    http_status = 408


class InvalidOptionError(LocalposeError, ValueError):
    """An option is outside its allowed range."""

    code = "invalid_option"
    exit_code = EXIT_USAGE
    http_status = 422


class MissingExtraError(LocalposeError):
    """A feature needs an optional dependency; the message names the extra to install."""

    code = "missing_extra"
    exit_code = EXIT_USAGE
    http_status = 501


class NotFoundError(LocalposeError):
    """A stored job, or one of its files, does not exist (or has expired)."""

    code = "not_found"
    exit_code = EXIT_FAILED_INPUTS
    http_status = 404


class JobNotFoundError(NotFoundError):
    """No video job with that id (never made, deleted, or expired)."""

    code = "job_not_found"


class StorageFullError(LocalposeError):
    """The stored video jobs would go over their size limit."""

    code = "storage_full"
    exit_code = EXIT_FAILED_INPUTS
    http_status = 507


class RequestTimeoutError(LocalposeError):
    """The estimate took longer than the per-request timeout."""

    code = "timeout"
    exit_code = EXIT_FAILED_INPUTS
    http_status = 504


class EstimatorFailedError(LocalposeError):
    """The estimator failed in an unexpected way on this input (the details are in the log)."""

    code = "internal_error"
    exit_code = EXIT_FAILED_INPUTS
    http_status = 500


class BusyError(LocalposeError):
    """All estimators are busy and the queue is full."""

    code = "busy"
    exit_code = EXIT_FAILED_INPUTS
    http_status = 503


class WorkerLostError(BusyError):
    """The worker process (or Ray actor) running this work died: the server replaces it at once
    (retry shortly); a batch reports the input that kept killing its workers as failed."""

    code = "worker_lost"
