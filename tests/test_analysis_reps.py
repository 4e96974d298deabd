"""Repetition counting: synthetic motions built from a real pose (all six exercises, with
jitter, spikes and dropouts), form flags, the live interface, and real footage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from analysis_support import (
    curl,
    ease,
    frame,
    jumping_jack,
    lunge,
    pushup,
    situp,
    squat,
    standing,
    video_poses,
)
from localpose.analysis.reps import EXERCISES, RepCounter, RepOptions, count_reps, exercise_spec
from localpose.errors import InvalidOptionError
from localpose.result import PoseFrame
from localpose.schema import LANDMARK_INDEX

FPS = 30.0


def motion(
    base: np.ndarray,
    make: Callable[[np.ndarray, float], np.ndarray],
    amplitudes: list[float],
    view: str,
    *,
    fps: float = FPS,
    rep_s: float = 1.6,
    rest_s: float = 0.8,
    noise_m: float = 0.008,
    spikes: int = 4,
    dropouts: tuple[tuple[float, float], ...] = (),
    start_q: float = 0.0,
    seed: int = 7,
) -> list[PoseFrame]:
    """Rest, then one ease-in-out repetition per amplitude with rests between; jitter on every
    landmark (noise_m metres, ~3 px), `spikes` single-frame outliers (one landmark thrown 0.3 m),
    and no person at all during the `dropouts` (start s, duration s)."""
    rng = np.random.default_rng(seed)
    duration = rest_s + len(amplitudes) * (rep_s + rest_s)
    times = np.arange(0.0, duration, 1.0 / fps)
    spike_at = set(rng.choice(len(times), size=spikes, replace=False).tolist())
    frames = []
    for k, t in enumerate(times):
        q = 0.0
        u = t - rest_s
        if start_q and t < rest_s:
            q = start_q * (1 - t / rest_s)
        elif u >= 0:
            rep, within = divmod(u, rep_s + rest_s)
            if rep < len(amplitudes) and within < rep_s:
                q = amplitudes[int(rep)] * float(ease(np.array(within / rep_s)))
        if any(s <= t < s + d for s, d in dropouts):
            frames.append(PoseFrame.empty((1280, 720), 1000.0 * t))
            continue
        world = make(base, q) + rng.normal(0.0, noise_m, (33, 3))
        if k in spike_at:
            world[rng.integers(11, 29)] += rng.normal(0.0, 0.3, 3)
        frames.append(frame(world, 1000.0 * t, view))
    return frames


GENERATORS = {
    # exercise: (motion, camera view, amplitude of a partial repetition: past start, short of peak)
    "squat": (squat, "front", 0.5),
    "lunge": (lunge, "front", 0.6),
    "pushup": (pushup, "side", 0.6),
    "jumping_jack": (jumping_jack, "front", 0.5),
    "situp": (situp, "side", 0.55),
    "curl": (curl, "front", 0.6),
}


@pytest.mark.parametrize("exercise", list(GENERATORS))
def test_counts_exactly_through_jitter_spikes_and_short_dropouts(data_dir, exercise):
    make, view, shallow = GENERATORS[exercise]
    # 4 full repetitions and 1 partial; dropouts of 0.3 s at the bottom of the 2nd repetition
    # (rest 0.8 s + 1 rep of 2.4 s + half a rep 0.8 s = 4.0 s) and 0.25 s while resting.
    frames = motion(
        standing(data_dir), make, [1, 1, shallow, 1, 1], view, dropouts=((3.85, 0.3), (5.5, 0.25))
    )
    report = count_reps(frames, exercise)
    assert (report.reps, report.partial) == (4, 1), [r.to_dict() for r in report.items]
    partial = [r for r in report.items if not r.complete]
    assert partial[0].index == 2 and partial[0].reason == "shallow"
    assert [r.complete for r in report.items] == [True, True, False, True, True]
    for rep in report.full:
        # ease-in-out repetitions of 1.6 s: rest-to-rest time measured at the rest threshold
        assert 0.6 < rep.duration_s < 1.6
        assert rep.to_peak_s > 0.2 and rep.return_s > 0.2
        assert rep.rom_deg > exercise_spec(exercise).peak - exercise_spec(exercise).rest


@pytest.mark.parametrize("exercise", ["squat", "pushup"])
def test_counts_at_five_frames_per_second(data_dir, exercise):
    make, view, _ = GENERATORS[exercise]
    frames = motion(standing(data_dir), make, [1, 1, 1], view, fps=5.0, rep_s=2.4, spikes=0)
    report = count_reps(frames, exercise)
    assert (report.reps, report.partial) == (3, 0)


def test_a_long_dropout_abandons_the_repetition_and_counting_resumes(data_dir):
    # 1.5 s without the person from the bottom of the 2nd repetition (t = 4.0 s) until the rest
    # after it (4.8 to 5.6 s); the max_gap_s default is 1 s.
    frames = motion(standing(data_dir), squat, [1, 1, 1, 1], "front", dropouts=((3.9, 1.5),))
    report = count_reps(frames, "squat")
    reasons = [r.reason for r in report.items]
    assert reasons == ["full", "lost", "full", "full"], reasons
    assert (report.reps, report.partial) == (3, 1)


def test_motion_before_the_first_rest_position_is_not_counted(data_dir):
    # The clip starts at the bottom of a squat and rises: half a repetition, not counted.
    frames = motion(standing(data_dir), squat, [1, 1], "front", start_q=1.0)
    report = count_reps(frames, "squat")
    assert (report.reps, report.partial) == (2, 0)


def test_a_repetition_cut_off_by_the_end_is_partial_unfinished(data_dir):
    frames = motion(standing(data_dir), squat, [1, 1], "front")
    cut = frames[: int((0.8 + 2.4 + 1.0) * FPS)]  # ends 0.2 s after the 2nd bottom, on the way up
    report = count_reps(cut, "squat")
    assert (report.reps, report.partial) == (1, 1)
    assert report.items[-1].reason == "unfinished"


# ---------------------------------------------------------------------------------------------
# Form flags: each built to trigger (or not) one documented threshold.


def _flags(frames, exercise, options: RepOptions | None = None) -> list[tuple[str, ...]]:
    report = count_reps(frames, exercise, options)
    assert report.reps >= 1, [r.to_dict() for r in report.items]
    return [r.flags for r in report.full]


def _slow(base, make, amplitudes, view, **kwargs) -> list[PoseFrame]:
    """Repetitions of 2.4 s: well clear of the 1 s `rushed` threshold."""
    return motion(base, make, amplitudes, view, rep_s=2.4, **kwargs)


def test_squat_form_flags(data_dir):
    base = standing(data_dir)
    assert _flags(_slow(base, squat, [1, 1], "front"), "squat") == [(), ()]
    leaning = _slow(base, lambda p, q: squat(p, q, lean=60), [1], "front")
    assert _flags(leaning, "squat") == [("forward_lean",)]
    # q = 0.7 bends the knees to about 85 degrees (counted: past the 80 peak) while the thighs
    # stay about 33 degrees above parallel (the shallow flag is at 30).
    assert _flags(_slow(base, squat, [0.7], "front"), "squat") == [("shallow",)]
    rushed = motion(base, squat, [1], "front", rep_s=0.7)
    assert _flags(rushed, "squat") == [("rushed",)]


def test_pushup_form_flags(data_dir):
    base = standing(data_dir)
    assert _flags(_slow(base, pushup, [1], "side"), "pushup") == [()]
    sag = _flags(_slow(base, lambda p, q: pushup(p, q, sag=30), [1], "side"), "pushup")
    assert sag == [("hip_sag",)]
    pike = _flags(_slow(base, lambda p, q: pushup(p, q, sag=-35), [1], "side"), "pushup")
    assert pike == [("hip_pike",)]
    # Flared elbows bend across a side camera's line of sight, so this one is counted in 3D.
    flared = _slow(base, lambda p, q: pushup(p, q, flare=True), [1], "side")
    assert _flags(flared, "pushup", RepOptions(space="world")) == [("elbow_flare",)]


def test_curl_jumping_jack_situp_form_flags(data_dir):
    base = standing(data_dir)
    assert _flags(_slow(base, curl, [1], "front"), "curl") == [()]
    drift = _flags(_slow(base, lambda p, q: curl(p, q, drift=50), [1], "front"), "curl")
    assert drift == [("elbow_drift",)]
    assert _flags(_slow(base, jumping_jack, [1], "front"), "jumping_jack") == [()]
    # arms rise to about 135 degrees (past the 120 peak, short of 150) and the feet stay together
    low = _slow(base, lambda p, q: jumping_jack(p, q, arms=120, legs=0), [1], "front")
    assert _flags(low, "jumping_jack") == [("arms_not_overhead", "legs_not_spread")]
    assert _flags(_slow(base, situp, [1], "side"), "situp") == [()]
    # 0.85 x 80 degrees: past the 60 degree peak, short of the 70 degree range check
    assert _flags(_slow(base, situp, [0.85], "side"), "situp") == [("short_range",)]


# ---------------------------------------------------------------------------------------------
# Live interface and options


def test_live_counter_reports_each_repetition_on_the_frame_it_ends(data_dir):
    frames = motion(standing(data_dir), curl, [1, 1, 1], "front")
    counter = RepCounter("biceps-curl")
    ended = []
    for k, f in enumerate(frames):
        update = counter.update(f)
        if update.finished is not None:
            ended.append((k, update.reps))
            assert update.state == "rest"
            assert update.to_dict()["finished"]["complete"] is True
    assert [reps for _, reps in ended] == [1, 2, 3]
    report = counter.finish()
    assert [r.end_frame for r in report.items] == [k for k, _ in ended]
    with pytest.raises(RuntimeError):
        counter.update(frames[0])


def test_multi_person_frames_follow_the_requested_track(data_dir):
    base = standing(data_dir)
    moving = motion(base, squat, [1, 1], "front", spikes=0)
    still = frame(base, 0.0)
    frames = [
        PoseFrame.concatenate([still.replace(timestamp_ms=f.timestamp_ms), f]).replace(
            track_id=[5, 9], score=[0.99, 0.5]
        )
        for f in moving
    ]
    assert count_reps(frames, "squat", track_id=9).reps == 2
    assert count_reps(frames, "squat", track_id=5).reps == 0


def test_exercise_names_and_options_are_checked():
    assert exercise_spec("Push-Up") is EXERCISES["pushup"]
    assert exercise_spec("jumping jack") is EXERCISES["jumping_jack"]
    with pytest.raises(InvalidOptionError, match="unknown exercise"):
        exercise_spec("burpee")
    with pytest.raises(InvalidOptionError):
        RepOptions(max_gap_s=-1)
    with pytest.raises(InvalidOptionError):
        EXERCISES["squat"].__class__(**{**EXERCISES["squat"].__dict__, "start": 20})


def test_report_is_json_ready(data_dir):
    import json

    report = count_reps(motion(standing(data_dir), squat, [1, 0.5], "front"), "squat")
    document = json.loads(json.dumps(report.to_dict()))
    assert document["reps"] == 1 and document["partial"] == 1
    assert document["thresholds_deg"] == {"rest": 35, "start": 50, "peak": 80}
    assert {c["flag"] for c in document["checks"]} >= {"shallow", "forward_lean"}
    assert set(document["items"][0]["tempo_s"]) == {"to_peak", "return", "total"}


_ = LANDMARK_INDEX


# ---------------------------------------------------------------------------------------------
# Real footage: the expected counts were made by hand, stepping through every frame.


def test_real_squats_two_full_and_one_cut_off(data_dir, model):
    """mediapipe/pose_squats.mp4, 65 frames at 5 fps, a woman squatting with a band, 3/4 front view.

    Counted by hand on a contact sheet of all 65 frames (and frames 0, 10, 20, 34, 45, 59, 62, 64
    at full size): standing 0-2; squat 1 descends 3-7, bottom 8-12, rises 13-18; standing 19-27;
    squat 2 descends 28-31, bottom 31-37, rises 38-42; standing 43-51; squat 3 descends 52-56,
    bottom 56-61, rises 62-64 and the clip ends half-way up (frame 64 is still a half squat).
    A repetition counts when it ends back at the top, so: 2 full, and squat 3 is partial
    ("unfinished").
    """
    report = count_reps(video_poses(data_dir / "mediapipe" / "pose_squats.mp4", model), "squat")
    assert (report.reps, report.partial) == (2, 1), [r.to_dict() for r in report.items]
    assert [r.reason for r in report.items] == ["full", "full", "unfinished"]
    bottoms = [(8, 12), (31, 37), (56, 61)]
    for rep, (first, last) in zip(report.items, bottoms, strict=True):
        assert first <= rep.peak_frame <= last
    for rep in report.full:  # each took 2.4 s rest to rest (12 frames at 5 fps)
        assert rep.duration_s == pytest.approx(2.4, abs=0.41)
        assert rep.flags == ()


@pytest.mark.slow
def test_real_pushups_four(data_dir, model):
    """videos/pushup_side.mp4, 472 frames at 30 fps, a man doing slow push-ups seen from his left.

    Counted by hand on contact sheets of every 4th frame (and every 3rd in 0-63): frames 0-57 are
    a blurred title card over him rising from the floor (no rep starts there: the clip opens at
    the bottom, and MediaPipe finds nobody until ~57); then top 60-68; push-up 1 down 72-92,
    bottom 96-128, up 132-148; top 152-188; push-up 2 down 192-200, bottom 204-232, up 236-252;
    top 256-288; push-up 3 down 292-304, bottom 308-336, up 340-356; top 360-376 (a cut at ~364);
    push-up 4 down 380-396, bottom 400-424, up 428-440; top 444-471. 4 full push-ups.
    """
    report = count_reps(video_poses(data_dir / "videos" / "pushup_side.mp4", model), "pushup")
    assert (report.reps, report.partial) == (4, 0), [r.to_dict() for r in report.items]
    bottoms = [(96, 128), (204, 232), (308, 336), (400, 424)]
    for rep, (first, last) in zip(report.items, bottoms, strict=True):
        assert first <= rep.peak_frame <= last
        assert rep.flags == ()


@pytest.mark.slow
def test_rendered_arm_raise_counts_as_one_jumping_jack_arm_cycle(data_dir, model):
    """videos/dance_synthetic_tfjs.mp4: 120 frames at 30 fps of a computer-rendered dancer (not a
    real person; the only footage of arms going overhead). Stepped through every 3rd frame: arms
    low and a little out 0-30, rising 33-45, overhead 45-66, coming down 69-84 to hands at the
    face with the upper arms hanging, and so to the end (117). One raise and return: 1 full
    repetition of the jumping-jack arm signal. She stands on one leg, so legs are not judged."""
    report = count_reps(video_poses(data_dir / "videos" / "dance_synthetic_tfjs.mp4", model), "jumping_jack")
    assert (report.reps, report.partial) == (1, 0), [r.to_dict() for r in report.items]
    rep = report.items[0]
    assert 45 <= rep.peak_frame <= 66 and 69 <= rep.end_frame <= 90
    assert "arms_not_overhead" not in rep.flags


def test_staying_down_longer_than_max_rep_s_abandons_the_repetition(data_dir):
    base = standing(data_dir)
    # stand 1 s, squat down and stay down for 5 s, stand up, then one normal squat
    qs = [0.0] * 10 + [k / 5 for k in range(6)] + [1.0] * 50 + [1 - k / 5 for k in range(6)] + [0.0] * 10
    qs += [float(ease(np.array(k / 16))) for k in range(17)] + [0.0] * 10
    frames = [frame(squat(base, q), 100.0 * k) for k, q in enumerate(qs)]
    report = count_reps(frames, "squat", RepOptions(max_rep_s=3.0))
    assert [r.reason for r in report.items] == ["too_long", "full"]
    assert report.items[0].duration_s == pytest.approx(3.0, abs=0.25)
    assert (report.reps, report.partial) == (1, 1)
    with pytest.raises(InvalidOptionError):
        RepOptions(max_rep_s=0)
