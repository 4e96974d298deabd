"""Tracking, plausibility flags and smoothing on controlled sequences built from a real pose."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from localpose.errors import InvalidOptionError
from localpose.result import PoseFrame
from localpose.schema import LANDMARK_INDEX
from localpose.smooth import INTERPOLATED, OneEuroSmoother, SmoothingOptions, jitter, smooth_tracks
from localpose.track import PoseTracker, TrackerOptions, drop_duplicates
from localpose.validate import BONE_JUMP, LEFT_RIGHT_SWAP, LOW_VISIBILITY, TOO_SMALL, PoseValidator


@pytest.fixture(scope="module")
def person(data_dir: Path) -> PoseFrame:
    """Frame 0 of MediaPipe's squat reference: one real standing person in a 720x1280 frame."""
    d = json.loads((data_dir / "mediapipe/pose_squats_expected.json").read_text())
    xy = np.asarray(d["pixel_xyz"][0])[:, :2]
    return PoseFrame(
        image_size=(d["width"], d["height"]),
        xy=xy[None],
        z=np.zeros((1, 33)),
        visibility=np.full((1, 33), 0.95),
        presence=np.ones((1, 33)),
        world=np.asarray(d["world_xyz_m"][0])[None],
        score=[0.9],
    )


def shifted(person: PoseFrame, dx: float, t_ms: float, scale: float = 1.0) -> PoseFrame:
    centre = person.xy[0].mean(axis=0)
    xy = (person.xy - centre) * scale + centre + [dx, 0]
    return person.replace(xy=xy, timestamp_ms=t_ms)


def scene(person: PoseFrame, offsets: list[float], t_ms: float) -> PoseFrame:
    """Several copies of the person side by side (each shrunk to fit), at one time."""
    return PoseFrame.concatenate([shifted(person, dx, t_ms, 0.4) for dx in offsets])


def test_people_walking_past_keep_their_ids(person: PoseFrame) -> None:
    tracker = PoseTracker()
    ids = []
    for k in range(30):
        frame = scene(person, [-250 + 4 * k, 150 - 4 * k], 33.0 * k)  # walking towards each other
        ids.append(list(tracker.update(frame).track_id))
    assert all(frame_ids == [0, 1] for frame_ids in ids)


def test_reentry_within_the_gap_keeps_the_id_and_later_gets_a_new_one(person: PoseFrame) -> None:
    tracker = PoseTracker(TrackerOptions(max_gap_ms=500))
    assert list(tracker.update(shifted(person, 0, 0)).track_id) == [0]
    tracker.update(PoseFrame.empty(person.image_size, 100))
    assert list(tracker.update(shifted(person, 10, 400)).track_id) == [0]  # back after 400 ms
    tracker.update(PoseFrame.empty(person.image_size, 500))
    assert list(tracker.update(shifted(person, 10, 1000)).track_id) == [1]  # gone 600 ms: new id


def test_a_far_jump_is_a_new_person(person: PoseFrame) -> None:
    tracker = PoseTracker()
    small = scene(person, [-250], 0)
    assert list(tracker.update(small).track_id) == [0]
    assert list(tracker.update(scene(person, [250], 33)).track_id) == [1]


def test_a_changed_pose_near_where_someone_was_lost_keeps_their_id(person: PoseFrame) -> None:
    """Lost for 200 ms, then seen again upside down (a jump or a fall: no pose similarity left)
    half a body height to the side: the same id (`reentry_reach`). Two body heights away, or
    with the rule off: a new id."""
    small = shifted(person, -200, 0, 0.3)
    height = float(np.ptp(small.xy[0, :, 1]))

    def flipped(dx: float, t_ms: float) -> PoseFrame:
        xy = small.xy.copy()
        centre = xy[0].mean(axis=0)
        xy[0, :, 1] = 2 * centre[1] - xy[0, :, 1]  # mirrored top to bottom
        xy[0, :, 0] += dx
        return small.replace(xy=xy, timestamp_ms=t_ms)

    for dx, options, expected in (
        (0.5 * height, TrackerOptions(), 0),
        (2.0 * height, TrackerOptions(), 1),
        (0.5 * height, TrackerOptions(reentry_reach=0), 1),
    ):
        tracker = PoseTracker(options)
        assert list(tracker.update(small).track_id) == [0]
        tracker.update(PoseFrame.empty(person.image_size, 100))
        assert list(tracker.update(flipped(dx, 200)).track_id) == [expected], (dx, options)


def test_duplicates_are_dropped_keeping_the_best(person: PoseFrame) -> None:
    twin = shifted(person, 3, 0).replace(score=[0.95])
    frame = PoseFrame.concatenate([person, twin, scene(person, [300], 0)])
    kept = drop_duplicates(frame)
    assert len(kept) == 2
    assert kept.score[0] == pytest.approx(0.95)


def test_validation_flags(person: PoseFrame) -> None:
    validator = PoseValidator()
    tracked = person.replace(track_id=[0])
    for k in range(5):
        assert validator.update(tracked.replace(timestamp_ms=33.0 * k)).flags == ((),)
    # Left and right limbs exchanged: the pose fits the previous one better crossed.
    left = [LANDMARK_INDEX[f"left_{j}"] for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]
    right = [LANDMARK_INDEX[f"right_{j}"] for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]
    xy = tracked.xy.copy()
    xy[0, left], xy[0, right] = tracked.xy[0, right], tracked.xy[0, left]
    assert LEFT_RIGHT_SWAP in validator.update(tracked.replace(xy=xy, timestamp_ms=200)).flags[0]
    # A shin twice as long in 3D.
    world = tracked.world.copy()
    knee, ankle = LANDMARK_INDEX["left_knee"], LANDMARK_INDEX["left_ankle"]
    world[0, ankle] = world[0, knee] + 2 * (world[0, ankle] - world[0, knee])
    assert validator.update(tracked.replace(world=world, timestamp_ms=233)).flags == ((BONE_JUMP,),)
    dim = tracked.replace(visibility=np.full((1, 33), 0.2), timestamp_ms=266)
    assert LOW_VISIBILITY in validator.update(dim).flags[0]
    tiny = scene(person, [0], 300)
    tiny = tiny.replace(xy=(tiny.xy - tiny.xy.mean(axis=1)) * 0.05 + 300)
    assert TOO_SMALL in PoseValidator().update(tiny).flags[0]


def _noisy_track(person: PoseFrame, n: int = 120, fps: float = 30.0, noise: float = 3.0) -> list[PoseFrame]:
    """The person swaying sideways (0.5 Hz, 40 px) with pixel noise, tracked as id 0."""
    rng = np.random.default_rng(1)
    frames = []
    for k in range(n):
        t = k / fps
        sway = np.array([40 * np.sin(2 * np.pi * 0.5 * t), 0.0])
        xy = person.xy + sway + rng.normal(0, noise, person.xy.shape)
        frames.append(person.replace(xy=xy, timestamp_ms=1000 * t, track_id=[0]))
    return frames


def test_offline_smoothing_removes_noise_and_keeps_the_motion(person: PoseFrame) -> None:
    frames = _noisy_track(person)
    truth = np.stack([person.xy[0] + [40 * np.sin(np.pi * k / 30), 0] for k in range(120)])
    noisy = np.stack([f.xy[0] for f in frames])
    for method in ("butterworth", "gaussian"):
        smooth = np.stack([f.xy[0] for f in smooth_tracks(frames, SmoothingOptions(method=method))])
        assert jitter(noisy) / jitter(smooth) > 5
        # White noise: a 6 Hz cut-off at 30 fps keeps 6/15 of its power (amplitude x 0.63).
        assert np.abs(smooth - truth)[10:-10].mean() < 0.7 * np.abs(noisy - truth).mean()


def test_one_euro_is_causal_and_smooths(person: PoseFrame) -> None:
    frames = _noisy_track(person)
    smoother = OneEuroSmoother()
    out = np.stack([smoother.update(f).xy[0] for f in frames])
    noisy = np.stack([f.xy[0] for f in frames])
    assert jitter(noisy) / jitter(out) > 1.5
    # Causal: the first frames are unchanged by what comes later.
    again = OneEuroSmoother()
    first = np.stack([again.update(f).xy[0] for f in frames[:10]])
    np.testing.assert_allclose(first, out[:10])


def test_short_dropouts_are_filled_and_flagged(person: PoseFrame) -> None:
    frames = _noisy_track(person, n=30, noise=0.0)
    holed = [
        PoseFrame.empty(f.image_size, f.timestamp_ms) if 10 <= k < 14 else f for k, f in enumerate(frames)
    ]
    holed += [PoseFrame.empty(person.image_size, 1000 + 33.3 * k) for k in range(20)]  # a long absence
    out = smooth_tracks(holed, SmoothingOptions(method="none", max_gap_ms=250))
    assert len(out) == len(holed)
    for k in range(10, 14):
        assert len(out[k]) == 1 and out[k].flags == ((INTERPOLATED,),)
        np.testing.assert_allclose(out[k].xy[0], frames[k].xy[0], atol=2.0)  # linear between neighbours
    assert all(len(f) == 0 for f in out[30:])  # not filled: no person on the far side


def test_bad_options_are_rejected() -> None:
    with pytest.raises(InvalidOptionError):
        TrackerOptions(min_similarity=2)
    with pytest.raises(InvalidOptionError):
        SmoothingOptions(method="median")  # type: ignore[arg-type]


def test_own_butterworth_and_filtfilt_equal_scipy() -> None:
    """localpose designs and applies the zero-phase filter itself (importing scipy.signal costs
    ~0.5 s per video); the results equal scipy's."""
    from scipy.signal import butter, filtfilt

    from localpose.smooth import butterworth_lowpass, zero_phase_filter

    series = np.random.default_rng(0).normal(size=(200, 33, 3)).cumsum(axis=0)
    for order, cutoff in ((4, 0.4), (4, 0.05), (2, 0.8)):
        b, a = butterworth_lowpass(order, cutoff)
        want_b, want_a = butter(order, cutoff)
        np.testing.assert_allclose(b, want_b, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a, want_a, rtol=1e-12, atol=1e-15)
        padlen = 3 * len(a)
        np.testing.assert_allclose(
            zero_phase_filter(b, a, series, padlen), filtfilt(want_b, want_a, series, axis=0), atol=1e-9
        )


def test_own_assignment_is_optimal_like_scipy() -> None:
    from scipy.optimize import linear_sum_assignment

    from localpose.track import linear_assignment

    rng = np.random.default_rng(1)
    for trial in range(500):
        rows, cols = rng.integers(0, 8, 2)
        cost = rng.random((rows, cols)) if trial % 2 else rng.integers(0, 3, (rows, cols)).astype(float)
        r1, c1 = linear_sum_assignment(cost)
        r2, c2 = linear_assignment(cost)
        assert len(r2) == len(r1) == min(rows, cols)
        assert len(set(r2)) == len(r2) and len(set(c2)) == len(c2)
        assert cost[r2, c2].sum() == pytest.approx(cost[r1, c1].sum(), abs=1e-9)
