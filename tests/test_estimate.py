"""Real inference against MediaPipe's own golden values and against human ground truth."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from localpose.errors import InvalidInputError, InvalidOptionError
from localpose.estimate import PoseEstimator, VideoPoseEstimator
from localpose.metrics import object_keypoint_similarity
from localpose.options import EstimatorOptions
from localpose.schema import COCO17_FROM_LANDMARKS, COCO17_SIGMAS, LANDMARK_INDEX


@pytest.fixture(scope="module")
def estimator(model):
    with PoseEstimator(model=model) as est:
        yield est


@pytest.fixture(scope="module")
def pose_frame(estimator, pose_jpg):
    return estimator.estimate(pose_jpg)


def test_one_person_on_the_golden_image(pose_frame):
    assert len(pose_frame) == 1
    assert pose_frame.image_size == (1000, 667)


def test_tasks_landmarks_within_003_of_mediapipe_tasks_golden(pose_frame, pose_expected):
    # MediaPipe's Tasks test (pose_landmarker_test): |x|, |y| within 0.03 normalised.
    golden = pose_expected["tasks_pose_landmarker"]["normalized"]
    expected = np.array([[g["x"], g["y"]] for g in golden])
    assert np.abs(pose_frame.xy_norm[0] - expected).max() <= 0.03
    # The Java test also wants visibility and presence >= 0.9 on this image.
    assert pose_frame.visibility.min() >= 0.9 and pose_frame.presence.min() >= 0.9


def test_pixels_within_15px_and_world_within_02m_of_legacy_golden(pose_frame, pose_expected):
    golden = pose_expected["solutions_pose_test"]
    assert np.abs(pose_frame.xy[0] - np.array(golden["pixel_xy"])).max() <= 15
    world_key = next(k for k in golden if k.startswith("world"))
    assert np.abs(pose_frame.world[0] - np.array(golden[world_key])).max() <= 0.2


def test_segmentation_mask_iou_against_golden(model, pose_jpg, data_dir):
    with PoseEstimator(EstimatorOptions(segmentation=True), model=model) as est:
        frame = est.estimate(pose_jpg)
    golden = np.asarray(Image.open(data_dir / "mediapipe" / "pose_segmentation.png").convert("RGB"))
    person = golden[:, :, 2] > 127  # person pixels are blue, background red
    assert frame.masks is not None and frame.masks.shape == (1, 667, 1000)
    predicted = frame.masks[0] >= 0.5
    iou = (person & predicted).sum() / (person | predicted).sum()
    assert iou >= 0.88  # the tfjs test's bound for the MediaPipe runtime


def test_oks_against_coco_ground_truth_single_person(estimator, data_dir, coco_truth):
    """The skier in COCO 785: OKS of the found person >= 0.85 (measured 0.91)."""
    image = next(i for i in coco_truth["images"] if i["id"] == 785)
    truth = next(a for a in coco_truth["annotations"] if a["image_id"] == 785)
    frame = estimator.estimate(data_dir / "images" / "coco" / image["file_name"])
    assert len(frame) == 1
    keypoints = np.array(truth["keypoints"], dtype=float).reshape(17, 3)
    predicted = frame.xy[0, list(COCO17_FROM_LANDMARKS)]
    oks = object_keypoint_similarity(
        predicted, keypoints[:, :2], keypoints[:, 2] > 0, truth["area"], COCO17_SIGMAS
    )
    assert oks >= 0.85


H36M_ARMS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")


def test_arm_joints_against_human36m_ground_truth(estimator, data_dir):
    """Human3.6M motion-capture joints: arm joints within 8% of the person's box size (max seen 7.8%)."""
    truth = json.loads((data_dir / "images" / "h36m" / "h36m_keypoints.json").read_text())
    names = truth["categories"][0]["keypoints"]
    errors = []
    for image, person in zip(truth["images"], truth["annotations"], strict=True):
        frame = estimator.estimate(data_dir / "images" / "h36m" / image["file_name"])
        assert len(frame) == 1, image["file_name"]
        keypoints = np.array(person["keypoints"]).reshape(-1, 3)
        size = max(person["bbox"][2:])
        for name in H36M_ARMS:
            error = np.hypot(*(frame.xy[0, LANDMARK_INDEX[name]] - keypoints[names.index(name), :2]))
            errors.append(error / size)
    assert max(errors) <= 0.08 and float(np.median(errors)) <= 0.04


def test_exif_rotated_photo_gives_the_same_pose(estimator, pose_jpg, pose_frame):
    rotated = Image.open(pose_jpg).transpose(Image.Transpose.ROTATE_90)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # tells viewers to rotate it 90 degrees clockwise, back upright
    data = io.BytesIO()
    rotated.save(data, format="JPEG", quality=95, exif=exif.tobytes())
    frame = estimator.estimate(data.getvalue())
    assert frame.image_size == (1000, 667) and len(frame) == 1
    assert np.abs(frame.xy[0] - pose_frame.xy[0]).max() <= 10


def test_grayscale_input(estimator, pose_jpg, pose_frame):
    gray = np.asarray(Image.open(pose_jpg).convert("L"))
    frame = estimator.estimate(gray)
    assert len(frame) == 1
    assert np.abs(frame.xy[0] - pose_frame.xy[0]).max() <= 15


def test_no_people_gives_an_empty_frame(estimator):
    frame = estimator.estimate(np.full((480, 640, 3), 127, dtype=np.uint8))
    assert len(frame) == 0 and frame.image_size == (640, 480)


def test_options_are_validated():
    with pytest.raises(InvalidOptionError, match="num_poses"):
        EstimatorOptions(num_poses=11)
    with pytest.raises(InvalidOptionError, match="min_detection_confidence"):
        EstimatorOptions(min_detection_confidence=1.5)


def test_video_mode_tracks_and_keeps_real_timestamps(model, pose_jpg):
    rgb = np.asarray(Image.open(pose_jpg).convert("RGB"))
    with VideoPoseEstimator(model=model) as est:
        # Equal and fractional timestamps are legal input: MediaPipe gets strictly increasing ms.
        frames = [est.estimate(rgb, t) for t in (0.0, 33.4, 33.4, 66.7)]
    assert [f.timestamp_ms for f in frames] == [0.0, 33.4, 33.4, 66.7]
    assert all(len(f) == 1 for f in frames)
    assert np.abs(frames[-1].xy[0] - frames[0].xy[0]).max() <= 15
    with pytest.raises(InvalidInputError, match="uint8"):
        VideoPoseEstimator(model=model).estimate(rgb.astype(np.float32), 0.0)
