"""Keypoint exports: localpose JSON / JSON Lines, CSV, COCO results and OpenPose JSON.

Every writer takes `PoseFrame`s and every reader gives them back, so formats round-trip.
The layouts are documented in docs/formats.md.
"""

from localpose.export.coco import coco_image_ids, coco_images, coco_results, read_coco_results
from localpose.export.csvfile import CSV_COLUMNS, read_csv, write_csv
from localpose.export.jsonfile import (
    SCHEMA_NAME,
    SCHEMA_VERSION,
    frame_from_dict,
    frame_to_dict,
    read_json,
    read_jsonl,
    write_json,
    write_jsonl,
)
from localpose.export.openpose import openpose_dict

__all__ = [
    "CSV_COLUMNS",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "coco_image_ids",
    "coco_images",
    "coco_results",
    "frame_from_dict",
    "frame_to_dict",
    "openpose_dict",
    "read_coco_results",
    "read_csv",
    "read_json",
    "read_jsonl",
    "write_csv",
    "write_json",
    "write_jsonl",
]
