"""PoseFrame: shapes are checked, people can be selected, derived values are right."""

import numpy as np
import pytest

from localpose.result import PoseFrame


def make_frame(n: int, size=(200, 100), seed: int = 0) -> PoseFrame:
    rng = np.random.default_rng(seed)
    return PoseFrame(
        image_size=size,
        xy=rng.uniform(0, 100, (n, 33, 2)),
        z=rng.normal(size=(n, 33)),
        visibility=rng.uniform(size=(n, 33)),
        presence=rng.uniform(size=(n, 33)),
        world=rng.normal(size=(n, 33, 3)),
        score=rng.uniform(size=n),
        track_id=np.arange(n) + 10,
    )


def test_shapes_are_checked_with_expected_and_actual():
    with pytest.raises(ValueError, match=r"z must have shape \(2, 33\), got \(2, 32\)"):
        PoseFrame((10, 10), np.zeros((2, 33, 2)), np.zeros((2, 32)), np.zeros((2, 33)),
                  np.zeros((2, 33)), np.zeros((2, 33, 3)), np.zeros(2))  # fmt: skip
    with pytest.raises(ValueError, match="image_size"):
        PoseFrame.empty((0, 10))


def test_empty_frame():
    frame = PoseFrame.empty((640, 480), timestamp_ms=33.3)
    assert len(frame) == 0 and frame.people == [] and frame.boxes.shape == (0, 4)
    assert frame.track_id.shape == (0,) and frame.flags == ()


def test_indexing_selects_people_consistently():
    frame = make_frame(4)
    picked = frame[[3, 1]]
    assert len(picked) == 2
    np.testing.assert_array_equal(picked.xy, frame.xy[[3, 1]])
    np.testing.assert_array_equal(picked.track_id, [13, 11])
    assert len(frame[frame.score > 2]) == 0
    assert frame[-1].track_id.tolist() == [13]
    with pytest.raises(IndexError):
        frame[4]


def test_named_landmarks_and_normalised_coordinates():
    frame = make_frame(1)
    knee = frame.people[0].landmark("left_knee")
    assert knee.x == pytest.approx(frame.xy[0, 25, 0])
    assert knee.x_norm == pytest.approx(frame.xy[0, 25, 0] / 200)
    assert knee.y_norm == pytest.approx(frame.xy[0, 25, 1] / 100)
    with pytest.raises(KeyError, match="unknown landmark 'knee'"):
        frame.people[0].landmark("knee")


def test_boxes_are_clipped_to_the_image():
    frame = make_frame(1, size=(50, 50))
    xy = frame.xy.copy()
    xy[0, 0] = (-20, -5)
    xy[0, 1] = (80, 70)
    box = frame.replace(xy=xy).boxes[0]
    np.testing.assert_allclose(box, [0, 0, 49, 49])


def test_concatenate_and_flags():
    a, b = make_frame(2), make_frame(1, seed=1)
    both = PoseFrame.concatenate([a, b])
    assert len(both) == 3
    np.testing.assert_array_equal(both.world[2], b.world[0])
    flagged = both.with_flags([["x"], [], ["x", "y"]]).with_flags([["x"], ["z"], []])
    assert flagged.flags == (("x",), ("z",), ("x", "y"))
    with pytest.raises(ValueError, match="different image sizes"):
        PoseFrame.concatenate([a, make_frame(1, size=(10, 10))])
