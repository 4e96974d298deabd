"""Drawing checked pixel by pixel on synthetic canvases."""

import numpy as np
import pytest

from localpose.draw import PERSON_COLORS, DrawStyle, MaskAnnotator, SkeletonAnnotator, draw_poses
from localpose.result import PoseFrame
from localpose.schema import LANDMARK_INDEX

SHOULDER, ELBOW, WRIST = (LANDMARK_INDEX[n] for n in ("left_shoulder", "left_elbow", "left_wrist"))


def arm_frame(visible=(SHOULDER, ELBOW), offset=0.0, n=1, track_id=None) -> PoseFrame:
    xy = np.zeros((n, 33, 2), np.float32)
    visibility = np.zeros((n, 33), np.float32)
    for i in range(n):
        xy[i, SHOULDER] = (20, 50 + 30 * i + offset)
        xy[i, ELBOW] = (80, 50 + 30 * i + offset)
        xy[i, WRIST] = (80, 90)
        visibility[i, list(visible)] = 1.0
    return PoseFrame(
        image_size=(100, 120), xy=xy, z=np.zeros((n, 33)), visibility=visibility,
        presence=np.ones((n, 33)), world=np.zeros((n, 33, 3)), score=np.ones(n), track_id=track_id,
    )  # fmt: skip


def test_one_person_red_joints_white_bone_and_nothing_else():
    canvas = np.zeros((120, 100, 3), np.uint8)
    style = DrawStyle(thickness=3, radius=3)
    out = SkeletonAnnotator(style).annotate(canvas, arm_frame())
    assert canvas.sum() == 0, "the input image is not modified"
    assert out[50, 20].tolist() == [255, 0, 0] and out[50, 80].tolist() == [255, 0, 0]
    assert out[50, 50].tolist() == [255, 255, 255], "bone between the joints"
    # the hidden wrist (visibility 0) and its bone are not drawn
    assert out[90, 80].sum() == 0 and out[70, 80].sum() == 0
    drawn = out.any(axis=2)
    assert not drawn[:40].any() and not drawn[60:].any(), "nothing outside the arm"


def test_visibility_threshold_hides_landmarks():
    frame = arm_frame()
    visibility = frame.visibility.copy()
    visibility[0, ELBOW] = 0.4
    out = draw_poses(np.zeros((120, 100, 3), np.uint8), frame.replace(visibility=visibility))
    assert out[50, 80].sum() == 0 and out[50, 50].sum() == 0
    assert out[50, 20].tolist() == [255, 0, 0]
    lenient = DrawStyle(min_visibility=0.3)
    out = draw_poses(np.zeros((120, 100, 3), np.uint8), frame.replace(visibility=visibility), lenient)
    assert out[50, 80].tolist() == [255, 0, 0]


def test_several_people_get_distinct_bone_colours():
    thick = SkeletonAnnotator(DrawStyle(thickness=3))
    out = thick.annotate(np.zeros((120, 100, 3), np.uint8), arm_frame(n=2))
    assert out[50, 50].tolist() == list(PERSON_COLORS[0])
    assert out[80, 50].tolist() == list(PERSON_COLORS[1])
    tracked = thick.annotate(np.zeros((120, 100, 3), np.uint8), arm_frame(track_id=[4]))
    assert tracked[50, 50].tolist() == list(PERSON_COLORS[4])


@pytest.mark.parametrize(("size", "thickness", "radius"), [((320, 240), 1, 2), ((1920, 1080), 6, 9)])
def test_line_width_scales_with_image_size(size, thickness, radius):
    assert DrawStyle().sizes(size) == (thickness, radius)


def test_image_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="image is 50x50"):
        draw_poses(np.zeros((50, 50, 3), np.uint8), arm_frame())


def test_mask_annotator_tints_only_the_mask():
    frame = arm_frame()
    masks = np.zeros((1, 120, 100), np.float32)
    masks[0, :10, :10] = 1.0
    out = MaskAnnotator(opacity=1.0).annotate(np.zeros((120, 100, 3), np.uint8), frame.replace(masks=masks))
    assert out[5, 5].tolist() == list(PERSON_COLORS[0]) and out[50, 50].sum() == 0


def test_drawing_on_i420_planes_matches_drawing_in_rgb(pose_jpg):
    """The video path draws on the decoded 4:2:0 planes, converting only the people's region:
    the result equals drawing on the whole RGB frame, up to colour-conversion rounding."""
    import cv2

    from localpose.draw import draw_poses_i420
    from localpose.images import load_image

    rgb = load_image(pose_jpg)[:666, :1000]  # even sides
    xy = np.array([[[500.0, 300.0]] * 33], np.float32) + np.random.default_rng(1).uniform(
        -150, 150, (1, 33, 2)
    )
    frame = PoseFrame(
        image_size=(1000, 666), xy=xy, z=np.zeros((1, 33)), visibility=np.ones((1, 33)),
        presence=np.ones((1, 33)), world=np.zeros((1, 33, 3)), score=np.ones(1), track_id=[3],
    )  # fmt: skip
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    planes = (i420[:666], i420[666:].reshape(-1)[: 333 * 500].reshape(333, 500),
              i420[666:].reshape(-1)[333 * 500 :].reshape(333, 500))  # fmt: skip
    draw_poses_i420(planes, frame)
    got = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420).astype(int)
    want = cv2.cvtColor(cv2.cvtColor(draw_poses(rgb, frame), cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)
    difference = np.abs(got - want.astype(int))
    assert difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 8
    changed = np.abs(
        got - cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)
    ).sum(-1)
    assert (changed > 60).sum() > 2000  # the skeleton and the "#3" label were drawn
