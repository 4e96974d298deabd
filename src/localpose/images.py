"""Turning what users hand us (arrays, paths, encoded bytes) into RGB uint8 arrays.

Formats are sniffed from content, never trusted from a file name. Size limits are checked
from the header before any pixel is decoded, so decompression bombs cost nothing.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from localpose.errors import ImageTooLargeError, InvalidImageError
from localpose.options import ImageLimits

__all__ = [
    "FORMATS_TEXT",
    "IMAGE_SUFFIXES",
    "MAX_SIDE",
    "SUPPORTED_FORMATS",
    "ImageSource",
    "check_size",
    "decode_image",
    "image_files",
    "load_image",
    "looks_like_image",
    "to_rgb",
]

ImageSource = np.ndarray | Image.Image | bytes | bytearray | memoryview | str | os.PathLike
"""An RGB/RGBA/grayscale uint8 array, a PIL image, encoded image bytes, or a path to an image file."""

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP"})
"""Pillow format names we accept (MPO is the multi-picture JPEG many cameras write)."""
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
"""File name endings taken for images when a folder is searched (the content decides in the end)."""
FORMATS_TEXT = "JPEG, PNG, WebP or BMP"
"""The accepted formats, in words, for messages."""


def image_files(folder: Path) -> list[Path]:
    """The files under `folder` (searched recursively) whose names end like images, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM")


def looks_like_image(data: bytes) -> bool:
    """Content sniffing of the accepted formats (file names and content types are not trusted)."""
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


MAX_SIDE = 32766
"""Longest image side the pipeline takes: OpenCV's affine warps need sides below 32767."""


def check_size(width: int, height: int, limits: ImageLimits) -> None:
    """Refuse an image over the pixel limit, or one the pipeline cannot take (a side of 32767
    or more, or nothing in it), before any pixel is decoded."""
    if width <= 0 or height <= 0:
        raise InvalidImageError(f"image is empty ({width}x{height})")
    if width * height > limits.max_pixels:
        raise ImageTooLargeError(
            f"image is {width}x{height} = {width * height} pixels, over the limit of {limits.max_pixels}"
        )
    if max(width, height) > MAX_SIDE:
        raise InvalidImageError(
            f"image is {width}x{height}; sides longer than {MAX_SIDE} pixels are not supported "
            "(scale or crop it first)"
        )


def load_image(source: ImageSource, limits: ImageLimits | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) from an array, a PIL image, encoded bytes or a file path."""
    limits = limits or ImageLimits()
    if isinstance(source, np.ndarray):
        return to_rgb(source, limits)
    if isinstance(source, Image.Image):  # as Image.open gives it: turned upright like a file
        return to_rgb(_pil_to_rgb(ImageOps.exif_transpose(source)), limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source), limits)
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise ImageTooLargeError(f"{path} is {size} bytes, over the limit of {limits.max_bytes}")
        data = path.read_bytes()  # a folder, no permission, or gone since stat: all OSError
    except OSError as exc:
        raise InvalidImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return decode_image(data, limits)


def decode_image(data: bytes, limits: ImageLimits | None = None) -> np.ndarray:
    """Decode JPEG/PNG/WebP/BMP bytes to RGB uint8, honouring EXIF orientation."""
    limits = limits or ImageLimits()
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(f"image is {len(data)} bytes, over the limit of {limits.max_bytes}")
    if not data:
        raise InvalidImageError("empty image data")
    with warnings.catch_warnings():
        # Our own pixel limit is stricter than Pillow's bomb warning; we check it below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(f"image has too many pixels: {exc}") from exc
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InvalidImageError(f"not a supported image (expected {FORMATS_TEXT})") from exc
        if image.format not in SUPPORTED_FORMATS:
            raise InvalidImageError(f"unsupported image format {image.format}; expected {FORMATS_TEXT}")
        check_size(*image.size, limits)
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidImageError(f"image data is truncated or corrupt: {exc}") from exc
    return _pil_to_rgb(image)


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.uint32)
        image = Image.fromarray((wide >> 8 if wide.max() > 255 else wide).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def to_rgb(array: np.ndarray, limits: ImageLimits | None = None) -> np.ndarray:
    """Check and convert a grayscale, RGB or RGBA uint8 array to contiguous RGB."""
    limits = limits or ImageLimits()
    if array.dtype != np.uint8:
        raise InvalidImageError(f"image arrays must be uint8, got {array.dtype}")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InvalidImageError(
            f"image arrays must be (H, W), (H, W, 3) RGB or (H, W, 4) RGBA, got {array.shape}"
        )
    check_size(array.shape[1], array.shape[0], limits)  # before any copy is made
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)
