"""Inputs are decoded by content, EXIF-rotated, converted to RGB, and rejected clearly when bad."""

import io

import numpy as np
import pytest
from PIL import Image

from image_support import png_header
from localpose.errors import ImageTooLargeError, InvalidImageError
from localpose.estimate import PoseEstimator
from localpose.images import decode_image, load_image, to_rgb
from localpose.options import ImageLimits


@pytest.fixture(scope="module")
def small_rgb(pose_jpg) -> np.ndarray:
    return np.asarray(Image.open(pose_jpg).convert("RGB").resize((200, 134)))


def _encode(array: np.ndarray, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt, **params)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "WEBP", "JPEG"])
def test_supported_formats_decode_to_the_same_pixels(small_rgb, fmt):
    params = {"WEBP": {"lossless": True}, "JPEG": {"quality": 95}}.get(fmt, {})
    decoded = decode_image(_encode(small_rgb, fmt, **params))
    assert decoded.shape == small_rgb.shape and decoded.dtype == np.uint8
    if fmt == "JPEG":
        assert np.abs(decoded.astype(int) - small_rgb).mean() < 3
    else:
        np.testing.assert_array_equal(decoded, small_rgb)


def test_format_comes_from_content_not_name(tmp_path, small_rgb):
    misnamed = tmp_path / "photo.gif"
    misnamed.write_bytes(_encode(small_rgb, "PNG"))
    assert load_image(misnamed).shape == small_rgb.shape
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image")
    with pytest.raises(InvalidImageError, match="not a supported image"):
        load_image(text)


def test_unsupported_format_is_named(small_rgb):
    with pytest.raises(InvalidImageError, match="unsupported image format GIF"):
        decode_image(_encode(small_rgb, "GIF"))


def test_exif_orientation_is_applied(small_rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    data = _encode(small_rgb, "JPEG", exif=exif.tobytes(), quality=95)
    decoded = decode_image(data)
    assert decoded.shape == (200, 134, 3)
    expected = np.rot90(small_rgb, k=-1)
    assert np.abs(decoded.astype(int) - expected).mean() < 3


def test_grayscale_and_rgba_become_rgb(small_rgb):
    gray = small_rgb[:, :, 0]
    assert np.array_equal(to_rgb(gray)[:, :, 2], gray)
    rgba = np.dstack([small_rgb, np.full(small_rgb.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(to_rgb(rgba), small_rgb)
    transparent = rgba.copy()
    transparent[:, :, 3] = 0
    assert (to_rgb(transparent) == 255).all(), "transparent pixels composite onto white"
    assert decode_image(_encode(gray, "PNG")).shape == small_rgb.shape
    assert decode_image(_encode(rgba, "PNG")).shape == small_rgb.shape


def test_truncated_jpeg_is_reported(pose_jpg):
    data = pose_jpg.read_bytes()
    with pytest.raises(InvalidImageError, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_empty_and_wrong_arrays_are_rejected():
    with pytest.raises(InvalidImageError, match="empty image data"):
        decode_image(b"")
    with pytest.raises(InvalidImageError, match="must be uint8"):
        to_rgb(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(InvalidImageError, match=r"\(H, W, 3\) RGB"):
        to_rgb(np.zeros((4, 4, 2), dtype=np.uint8))


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ImageTooLargeError, match="pixels"):
        decode_image(png_header(60_000, 60_000))
    with pytest.raises(ImageTooLargeError, match="over the limit of 1000000"):
        decode_image(png_header(2000, 2000), ImageLimits(max_pixels=1_000_000))


def test_byte_limit(small_rgb, tmp_path):
    data = _encode(small_rgb, "PNG")
    limits = ImageLimits(max_bytes=len(data) - 1)
    with pytest.raises(ImageTooLargeError, match="bytes"):
        decode_image(data, limits)
    path = tmp_path / "a.png"
    path.write_bytes(data)
    with pytest.raises(ImageTooLargeError, match="bytes"):
        load_image(path, limits)


def test_unreadable_paths_are_invalid_images(tmp_path):
    """A missing file or a folder is the caller's bad input, not an OSError from deep inside."""
    with pytest.raises(InvalidImageError, match=r"cannot read .*missing\.jpg: No such file"):
        load_image(tmp_path / "missing.jpg")
    folder = tmp_path / "photo.jpg"
    folder.mkdir()
    with pytest.raises(InvalidImageError, match=r"cannot read .*photo\.jpg: Is a directory"):
        load_image(folder)


def test_sides_the_pipeline_cannot_take_are_our_error_not_opencvs(model):
    """A panorama inside the pixel limit but with a side of 32767 px or more (OpenCV's warps
    need sides below SHRT_MAX) is an InvalidImageError from the header, from an array, and
    from the estimator; 32766 still works."""
    with pytest.raises(InvalidImageError, match="sides longer than 32766"):
        decode_image(png_header(36_000, 1000))
    wide = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (1000, 32_767, 3))  # no memory behind it
    with pytest.raises(InvalidImageError, match="32767x1000"):
        to_rgb(wide)
    with PoseEstimator(model=model) as estimator:
        with pytest.raises(InvalidImageError, match="sides longer"):
            estimator.estimate(np.zeros((32_767, 4, 3), np.uint8))
        assert len(estimator.estimate(np.full((8, 32_766, 3), 128, np.uint8))) == 0
