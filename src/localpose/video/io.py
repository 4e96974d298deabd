"""Reading and writing video files with PyAV (FFmpeg): frames as RGB arrays with real times.

Decoding honours the rotation stored in the file, keeps each frame's presentation time
(variable frame rates included), and survives damage: packets that fail to decode are
reported and skipped, and a truncated file yields what it holds. Writing produces H.264
(yuv420p, ``+faststart``) MP4 files that browsers play.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from localpose.errors import InvalidVideoError

__all__ = [
    "DecodeReport",
    "VideoInfo",
    "VideoWriter",
    "decoded_to_rgb",
    "frame_range",
    "frame_timestamps",
    "i420_planes",
    "open_source",
    "probe",
    "read_decoded",
    "read_frames",
    "read_source",
]

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 100
"""Give up on a file after this many packets in a row fail to decode."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as displayed (width and height after rotation)."""

    path: Path
    codec: str
    width: int
    height: int
    rotation: int
    """Degrees counter-clockwise the stored pictures are turned to display them."""
    fps: float
    frame_count: int
    """Frames in the file, counted from its packets (0 if it holds none)."""
    duration_s: float
    declared_frames: int = 0
    """Frames the container's header announces (0 when it does not say); more than
    `frame_count` means the file was cut short."""


@dataclass
class DecodeReport:
    """What went wrong while decoding (filled in as frames are read)."""

    frames: int = 0
    errors: list[str] = field(default_factory=list)

    def add_error(self, message: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(message)
        elif len(self.errors) == 20:
            self.errors.append("(further decode errors not listed)")


def _open(path: Path):  # -> av.container.InputContainer
    import av

    if not path.is_file():
        raise InvalidVideoError(f"{path}: no such file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidVideoError(f"{path}: not a readable video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise InvalidVideoError(f"{path}: holds no video stream")
    return container


def _stream_origin(stream) -> int:
    return stream.start_time if stream.start_time is not None else 0


def frame_timestamps(path: str | Path) -> list[float]:
    """Presentation times (ms from the stream start) of every frame, from packets only (no decoding)."""
    import av

    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        origin, base = _stream_origin(stream), float(stream.time_base)
        stamps = []
        try:
            for packet in container.demux(stream):
                if packet.size and packet.pts is not None:
                    stamps.append((packet.pts - origin) * base * 1000.0)
        except av.error.FFmpegError as exc:
            log.warning("%s: packet scan stopped early: %s", path, exc)
    return sorted(stamps)


def _rotation(container) -> int:
    """Display rotation of the first decodable frame (0 when none decodes)."""
    import av

    try:
        for frame in container.decode(video=0):
            return round(frame.rotation) % 360
    except av.error.FFmpegError:
        return 0
    return 0


def probe(path: str | Path, stamps: Sequence[float] | None = None) -> VideoInfo:
    """Codec, displayed size, rotation, frame rate, frame count and duration of a video file.

    `stamps`: the file's `frame_timestamps`, when the caller has them already (saves a scan).
    """
    path = Path(path)
    stamps = frame_timestamps(path) if stamps is None else stamps
    with _open(path) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        declared = int(stream.frames or 0)
        rotation = _rotation(container)
    if rotation in (90, 270):
        width, height = height, width
    steps = np.diff(stamps)
    if not rate and len(steps):
        rate = 1000.0 / float(np.median(steps))
    duration = (stamps[-1] - stamps[0]) / 1000.0 + (1.0 / rate if rate else 0.0) if stamps else 0.0
    return VideoInfo(path, codec, width, height, rotation, rate, len(stamps), duration, declared)


_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def decoded_to_rgb(frame, rotation: int = 0, max_side: int | None = None) -> np.ndarray:
    """A decoded frame as an upright RGB array (rotated by `rotation` degrees, optionally shrunk)."""
    width, height = frame.width, frame.height
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
    if _plain_yuv420(frame) and (width, height) == (frame.width, frame.height):
        import cv2

        # Same BT.601 limited-range conversion as FFmpeg's scaler, about 5x faster.
        rgb = cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2RGB_I420)
    else:
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb


def _plain_yuv420(frame) -> bool:
    """8-bit limited-range 4:2:0 with even sides: what OpenCV's I420 conversions expect."""
    return (
        frame.format.name == "yuv420p"
        and frame.width % 2 == 0
        and frame.height % 2 == 0
        and getattr(frame, "color_range", 0) != _FULL_RANGE
    )


def _decoded_frames(container, stream, report: DecodeReport) -> Iterator:  # -> av.VideoFrame
    """Every frame decoded from `stream`, in presentation order, past packets that fail.

    Failures are noted in `report`; after `MAX_CONSECUTIVE_ERRORS` in a row, or at a damaged
    end of file, decoding stops.
    """
    import av

    packets = container.demux(stream)
    failures = 0
    while True:
        try:
            frames = next(packets).decode()
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            failures += 1
            report.add_error(f"decode error after {report.frames} frame(s): {exc}")
            if failures >= MAX_CONSECUTIVE_ERRORS or isinstance(exc, av.error.EOFError):
                return
            continue
        failures = 0
        yield from frames


def frame_range(stamps: Sequence[float], first: int, stop: int) -> tuple[float | None, float | None]:
    """`read_frames` start and stop times (ms) for frames [first, stop) of a file with these times."""
    return (stamps[first] if first > 0 else None, stamps[stop] if stop < len(stamps) else None)


def read_frames(
    path: str | Path,
    start_ms: float | None = None,
    stop_ms: float | None = None,
    report: DecodeReport | None = None,
    max_side: int | None = None,
    threads: int | None = None,
) -> Iterator[tuple[np.ndarray, float]]:
    """(rgb, timestamp_ms) for each frame in presentation order, from `start_ms` up to `stop_ms`.

    Frames come upright (the file's rotation applied). `max_side` shrinks frames whose longer
    side is larger (in the decoder's scaler, cheaply). Undecodable packets are skipped and
    noted in `report`; a damaged tail ends the iteration.
    """
    for frame, t_ms, rotation in read_decoded(path, start_ms, stop_ms, report, threads):
        yield decoded_to_rgb(frame, rotation, max_side), t_ms


def read_decoded(
    path: str | Path,
    start_ms: float | None = None,
    stop_ms: float | None = None,
    report: DecodeReport | None = None,
    threads: int | None = None,
) -> Iterator[tuple[object, float, int]]:  # (av.VideoFrame, timestamp_ms, rotation degrees)
    """The decoded frames themselves, as `read_frames` walks them (for drawing on them in place).

    `threads` caps the decoder's threads (1 in worker processes that share the cores); by
    default FFmpeg picks.
    """
    path = Path(path)
    report = report if report is not None else DecodeReport()
    with _open(path) as container:
        stream = container.streams.video[0]
        if threads is None:
            stream.thread_type = "AUTO"
        else:
            stream.thread_count = threads
        origin, base = _stream_origin(stream), float(stream.time_base)
        rate = float(stream.average_rate) if stream.average_rate else 30.0
        if start_ms:
            container.seek(origin + int(start_ms / 1000.0 / base), stream=stream, backward=True)
        last_ms, rotation = None, None
        for frame in _decoded_frames(container, stream, report):
            if frame.pts is not None:
                t_ms = (frame.pts - origin) * base * 1000.0
            else:
                t_ms = 0.0 if last_ms is None else last_ms + 1000.0 / rate
            if start_ms is not None and t_ms < start_ms - 1e-3:
                continue
            if stop_ms is not None and t_ms >= stop_ms - 1e-3:
                return
            if rotation is None:
                rotation = round(frame.rotation) % 360
            last_ms = t_ms
            report.frames += 1
            yield frame, t_ms, rotation


def i420_planes(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Writable (Y, U, V) views of a decoded frame's pixels, or None unless it is plain 4:2:0.

    The frame gets its own pixel buffer first: a decoded frame shares it with the decoder's
    reference pictures, and drawing there would leak into the frames decoded after it.
    """
    if not _plain_yuv420(frame):
        return None
    frame.make_writable()
    views = []
    sizes = [(frame.width, frame.height)] + [(frame.width // 2, frame.height // 2)] * 2
    for plane, (width, height) in zip(frame.planes, sizes, strict=True):
        pixels = np.frombuffer(plane, dtype=np.uint8)
        if pixels.size < height * plane.line_size:
            return None
        views.append(pixels[: height * plane.line_size].reshape(height, plane.line_size)[:, :width])
    return views[0], views[1], views[2]


def _even(value: int) -> int:
    return value + (value % 2)


class VideoWriter:
    """Writes RGB frames with their timestamps to an H.264 MP4 that browsers play."""

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int],
        fps: float,
        crf: int = 23,
        preset: str = "veryfast",
        threads: int | None = None,
    ) -> None:
        """`threads` caps the encoder's threads (1 where other processes fill the cores)."""
        import av

        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self._container = av.open(str(self.path), "w", options={"movflags": "+faststart"})
        rate = Fraction(fps if fps > 0 else 30.0).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = _even(self.size[0]), _even(self.size[1])
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = Fraction(1, 1000)
        # No B-frames: decode order equals presentation order, so segments can be joined.
        self._stream.options = {"crf": str(crf), "preset": preset, "bf": "0"}
        if threads is not None:
            self._stream.options = {**self._stream.options, "threads": str(threads)}
        self._last_pts: int | None = None
        self.frames = 0

    def write(self, rgb: np.ndarray, timestamp_ms: float) -> None:
        """Append one frame shown at `timestamp_ms` (times must increase; ties are nudged by 1 ms)."""
        import av
        import cv2

        if rgb.shape[1] != self._stream.width or rgb.shape[0] != self._stream.height:
            padded = np.zeros((self._stream.height, self._stream.width, 3), dtype=np.uint8)
            padded[: rgb.shape[0], : rgb.shape[1]] = rgb
            rgb = padded
        # OpenCV's BT.601 limited-range conversion: what FFmpeg's scaler would do, about 8x faster.
        yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
        self._encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p"), timestamp_ms)

    def write_decoded(self, frame, timestamp_ms: float) -> None:  # frame: av.VideoFrame, yuv420p
        """Append a decoded 4:2:0 frame of the writer's size as it is (no colour conversion)."""
        frame.pict_type = 0  # let the encoder choose: a decoded keyframe must not force one
        self._encode(frame, timestamp_ms)

    def _encode(self, frame, timestamp_ms: float) -> None:
        pts = round(timestamp_ms)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        frame.pts, frame.time_base = pts, Fraction(1, 1000)
        self._last_pts = pts
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._container is None:
            return
        self._container.mux(self._stream.encode(None))
        self._container.close()
        self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_source(source: str, timeout_s: float = 10.0):  # -> av.container.InputContainer
    """Open a live source: a camera index ("0" -> /dev/video0), a stream URL or a file path."""
    import av

    options = {"timeout": str(int(timeout_s * 1_000_000))}  # microseconds, for network protocols
    try:
        if source.isdigit():
            return av.open(f"/dev/video{source}", format="v4l2")
        if source.startswith("rtsp://"):
            return av.open(source, options={**options, "rtsp_transport": "tcp"}, timeout=timeout_s)
        if "://" in source:
            return av.open(source, options=options, timeout=timeout_s)
        return _open(Path(source))
    except (av.error.FFmpegError, OSError) as exc:
        raise InvalidVideoError(f"{source}: cannot open ({exc})") from exc


def read_source(source: str, report: DecodeReport | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """(rgb, timestamp_ms) from a live source as frames arrive (stream time when known)."""
    report = report if report is not None else DecodeReport()
    container = open_source(source)
    try:
        if not container.streams.video:
            raise InvalidVideoError(f"{source}: holds no video stream")
        stream = container.streams.video[0]
        base = float(stream.time_base) if stream.time_base else 0.0
        origin, rotation = None, None
        for frame in _decoded_frames(container, stream, report):
            if frame.pts is None or not base:
                continue
            origin = frame.pts if origin is None else origin
            if rotation is None:
                rotation = round(frame.rotation) % 360
            report.frames += 1
            yield decoded_to_rgb(frame, rotation), (frame.pts - origin) * base * 1000.0
    finally:
        container.close()
