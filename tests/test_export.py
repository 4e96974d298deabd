"""Every export format round-trips through its reader."""

import io
import json

import numpy as np
import pytest

from localpose.errors import InvalidInputError
from localpose.export import (
    CSV_COLUMNS,
    coco_results,
    frame_from_dict,
    frame_to_dict,
    openpose_dict,
    read_coco_results,
    read_csv,
    read_json,
    read_jsonl,
    write_csv,
    write_json,
    write_jsonl,
)
from localpose.result import PoseFrame
from localpose.schema import BODY25_NAMES, COCO17_FROM_LANDMARKS, LANDMARK_INDEX
from test_result import make_frame


@pytest.fixture
def frame() -> PoseFrame:
    return make_frame(2).replace(timestamp_ms=123.25, flags=[("interpolated",), ()])


def assert_same(a: PoseFrame, b: PoseFrame) -> None:
    assert a.image_size == b.image_size and len(a) == len(b)
    assert a.timestamp_ms == pytest.approx(b.timestamp_ms, abs=1e-3)
    np.testing.assert_allclose(a.xy, b.xy, atol=1e-3)
    np.testing.assert_allclose(a.z, b.z, atol=1e-6)
    np.testing.assert_allclose(a.visibility, b.visibility, atol=1e-4)
    np.testing.assert_allclose(a.presence, b.presence, atol=1e-4)
    np.testing.assert_allclose(a.world, b.world, atol=1e-5)
    np.testing.assert_allclose(a.score, b.score, atol=1e-4)
    assert a.track_id.tolist() == b.track_id.tolist()
    assert a.flags == b.flags


def test_json_round_trip(tmp_path, frame):
    path = tmp_path / "f.json"
    write_json(path, frame, source="x.jpg")
    document = json.loads(path.read_text())
    assert document["schema"] == "localpose/pose-frame" and document["schema_version"] == 1
    person = document["people"][0]
    assert person["landmarks"][25]["name"] == "left_knee"
    assert person["bbox"][2] == pytest.approx(frame.boxes[0, 2] - frame.boxes[0, 0], abs=1e-3)
    assert_same(read_json(path), frame)


def test_json_reader_refuses_other_schemas(frame):
    document = frame_to_dict(frame)
    with pytest.raises(InvalidInputError, match="unsupported schema_version 2"):
        frame_from_dict({**document, "schema_version": 2})
    with pytest.raises(InvalidInputError, match="not a localpose pose frame"):
        frame_from_dict({**document, "schema": "other"})


def test_jsonl_round_trip_keeps_every_frame(tmp_path, frame):
    frames = [frame, PoseFrame.empty(frame.image_size, 140.0), frame[1:]]
    path = tmp_path / "f.jsonl"
    with path.open("w") as stream:
        assert write_jsonl(stream, frames, source="clip.mp4") == 3
    back = list(read_jsonl(path))
    assert len(back) == 3
    for a, b in zip(back, frames, strict=True):
        assert_same(a, b)
    assert [json.loads(line)["frame_index"] for line in path.read_text().splitlines()] == [0, 1, 2]


def test_csv_round_trip_keeps_empty_frames(tmp_path, frame):
    frames = [frame, PoseFrame.empty(frame.image_size, 140.0)]
    path = tmp_path / "f.csv"
    with path.open("w", newline="") as stream:
        write_csv(stream, frames, source="clip.mp4")
    lines = path.read_text().splitlines()
    assert lines[0].split(",") == list(CSV_COLUMNS)
    assert len(lines) == 1 + 2 * 33 + 1
    back = read_csv(path)
    assert [(s, i) for s, i, _ in back] == [("clip.mp4", 0), ("clip.mp4", 1)]
    assert_same(back[0][2], frame)
    assert len(back[1][2]) == 0 and back[1][2].timestamp_ms == 140.0


def test_coco_results_use_the_coco17_mapping(frame):
    entries = coco_results([(785, frame)])
    assert len(entries) == 2 and entries[0]["category_id"] == 1 and len(entries[0]["keypoints"]) == 51
    assert entries[0]["track_id"] == 10
    parsed = json.loads(json.dumps(entries))
    keypoints, scores, person_scores = read_coco_results(parsed)[785]
    np.testing.assert_allclose(keypoints, frame.xy[:, list(COCO17_FROM_LANDMARKS)], atol=1e-3)
    np.testing.assert_allclose(scores, frame.visibility[:, list(COCO17_FROM_LANDMARKS)], atol=1e-3)
    np.testing.assert_allclose(person_scores, frame.score, atol=1e-4)
    with pytest.raises(InvalidInputError, match="category_id 1"):
        read_coco_results([{"image_id": 1, "category_id": 2, "keypoints": [0] * 51}])


def test_openpose_body25(frame):
    document = openpose_dict(frame)
    assert document["version"] == 1.3 and len(document["people"]) == 2
    keypoints = np.array(document["people"][0]["pose_keypoints_2d"]).reshape(25, 3)
    shoulders = frame.xy[0, [LANDMARK_INDEX["left_shoulder"], LANDMARK_INDEX["right_shoulder"]]]
    np.testing.assert_allclose(keypoints[BODY25_NAMES.index("Neck"), :2], shoulders.mean(0), atol=1e-3)
    np.testing.assert_allclose(
        keypoints[BODY25_NAMES.index("RWrist"), :2], frame.xy[0, LANDMARK_INDEX["right_wrist"]], atol=1e-3
    )
    assert keypoints[BODY25_NAMES.index("LSmallToe")].tolist() == [0, 0, 0]
    assert document["people"][0]["person_id"] == [10]


def test_csv_stream_without_header():
    stream = io.StringIO()
    write_csv(stream, [PoseFrame.empty((4, 4))], header=False)
    assert stream.getvalue().count("\n") == 1


def test_readers_name_the_file_line_and_field(tmp_path):
    """Our readers say which file, line or frame and which field is wrong, as InvalidInputError."""
    from localpose.export import read_csv, read_jsonl

    good = frame_to_dict(PoseFrame.empty((10, 10)))
    broken = {k: v for k, v in good.items() if k != "image"}
    lines = tmp_path / "poses.jsonl"
    lines.write_text(json.dumps(good) + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(InvalidInputError, match=r"poses\.jsonl, line 2: .*without its 'image' field"):
        list(read_jsonl(lines))
    lines.write_text("{not json\n")
    with pytest.raises(InvalidInputError, match=r"poses\.jsonl, line 1"):
        list(read_jsonl(lines))
    table = tmp_path / "poses.csv"
    table.write_text("source,frame_index\nx,1\n")
    with pytest.raises(InvalidInputError, match=r"poses\.csv: not a localpose CSV: missing columns"):
        read_csv(table)
