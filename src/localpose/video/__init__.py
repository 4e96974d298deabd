"""Video: decoding and encoding (`io`), and the pipeline from a file to tracked, smoothed keypoints."""

from localpose.video.io import DecodeReport, VideoInfo, VideoWriter, frame_timestamps, probe, read_frames
from localpose.video.pipeline import (
    MP4_PRESETS,
    OUTPUT_KINDS,
    VideoOptions,
    VideoPool,
    VideoProgress,
    VideoReport,
    default_workers,
    estimate_video,
    process_video,
)

__all__ = [
    "MP4_PRESETS",
    "OUTPUT_KINDS",
    "DecodeReport",
    "VideoInfo",
    "VideoOptions",
    "VideoPool",
    "VideoProgress",
    "VideoReport",
    "VideoWriter",
    "default_workers",
    "estimate_video",
    "frame_timestamps",
    "probe",
    "process_video",
    "read_frames",
]
