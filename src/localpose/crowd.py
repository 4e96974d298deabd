"""Several people in one image: person proposals from MoveNet MultiPose, then landmarks per person.

BlazePose's detector sees one prominent person; MoveNet MultiPose (Google, Apache-2.0) sees up
to 6 people in one pass at about the cost of one detector run. In image mode with
`num_poses > 1` (`EstimatorOptions.image_stage == "proposals"`, the default there):

1. **Proposals.** MultiPose runs on the whole image at the input side `multipose_input_side`
   gives (256 for photos, up to 512 for 1920x1080 frames); people scored below
   `MULTIPOSE_MIN_SCORE` are dropped. MultiPose returns at most 6 people and sees small people
   in large frames poorly, so when it returns its 6, or when the image is larger than its
   largest input takes without shrinking people by more than 2.5x (long side > 1280 px), it
   also runs on the four overlapping 60% corner tiles (`localpose.multiperson.tiles`); a tile's
   proposal with OKS >= 0.5 against one already kept is the same person.
2. **One region per proposal, built as BlazePose builds its own** (`proposal_roi`): BlazePose's
   detector gives two alignment points, the mid-hips and a point whose distance from them is
   the radius of a circle around the whole body, in the direction of the upper body; the
   region is that circle's square, 1.25x, turned so that direction points up
   (`Roi.from_alignment_points`). From a proposal: centre the mid-hips, direction
   hips -> shoulders, radius the larger of 1.8x the torso (mid-hips to mid-shoulders) and 1.1x
   the farthest confident keypoint from the centre.
3. **Landmarks per person** on that region (the BlazePose landmark network, 33 + world),
   best proposal first. When the landmarks disagree with the proposal (agreement below 0.5,
   step 4), the network has followed a neighbour who fills more of the crop: it looks again
   at the body circle alone (the region without MediaPipe's 1.25 margin, less of the
   neighbour in view). When the landmarks' own region differs from the one used (IoU < 0.9,
   the search's rule for a loosely framed person) they look there too. The look that agrees
   best with the proposal is kept (on the COCO photos this second look raises mean OKS from
   0.796 to 0.803, on PoseTrack from 0.822 to 0.831).
4. **Honest scores** (`agreement`): a person's score is its mean landmark presence times the
   OKS between its COCO-17 landmarks and the proposal's confident keypoints. BlazePose's
   presence says a body is in the crop, not that the skeleton fits it: two people merged or a
   whole body packed into one leg keep a presence near 1.00 but disagree with MultiPose, which
   saw the person. A person whose agreement is below `DUPLICATE_OKS` (0.5: the similarity at
   which two poses count as one person everywhere in localpose) is not the proposal's person
   and is dropped.
5. **De-duplication**, best score first: `localpose.metrics.distinct_in_order` (OKS >= 0.5
   with a kept person, or a box 80% inside a kept person's box and less than half its area).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from localpose.blazepose.landmarks import PersonEstimate
from localpose.blazepose.pipeline import BlazePoseEngine, to_pose_frame
from localpose.blazepose.regions import ROI_SCALE, Roi
from localpose.engine.interface import RunningMode, check_rgb
from localpose.metrics import DUPLICATE_OKS, distinct_in_order, most_prominent, object_keypoint_similarity
from localpose.movenet.network import MoveNetNetwork
from localpose.movenet.processing import (
    MIN_CROP_KEYPOINT_SCORE,
    MULTIPOSE_DOWNSCALE,
    MULTIPOSE_MAX_SIDE,
    MULTIPOSE_MIN_SCORE,
    MoveNetPoses,
    decode_multipose,
    prepare_multipose,
)
from localpose.multiperson import tiles
from localpose.options import EstimatorOptions
from localpose.result import PoseFrame
from localpose.schema import COCO17_SIGMAS

__all__ = [
    "BODY_REACH",
    "MULTIPOSE_CAP",
    "PROPOSE_EVERY",
    "TORSO_REACH",
    "WELL_FRAMED",
    "CrowdEngine",
    "ProposalNetwork",
    "ProposalRegions",
    "agreement",
    "proposal_roi",
    "proposal_similarity",
]

TORSO_REACH = 1.8
"""The body circle's radius is at least this many torso lengths (mid-hips to mid-shoulders)..."""
BODY_REACH = 1.1
"""...and at least this many times the farthest confident keypoint's distance from mid-hips."""
_SHOULDERS, _HIPS = (5, 6), (11, 12)
MULTIPOSE_CAP = 6
"""MultiPose returns at most this many people."""
PROPOSE_EVERY = 5
"""Video: while someone is missing, MultiPose looks for newcomers every this many frames (1/6 s at 30 fps)."""
WELL_FRAMED = 0.9
"""A person whose landmarks' region overlaps the one used by at least this IoU, or whose
landmarks agree with their proposal at least this much (OKS), is not looked at again."""
_TILED_LONG_SIDE = MULTIPOSE_MAX_SIDE * MULTIPOSE_DOWNSCALE  # beyond it, people shrink more than 2.5x


def proposal_roi(keypoints: np.ndarray, scores: np.ndarray) -> Roi | None:
    """BlazePose's region for one MultiPose person (17 keypoints in pixels, their scores).

    The two alignment points BlazePose's detector would give: mid-hips, and the point
    `radius` away from them towards mid-shoulders. Without a confident hip and shoulder the
    centre is the confident keypoints' box centre and the region is upright. None without
    any confident keypoint.
    """
    points = np.asarray(keypoints, np.float64)
    confident = np.asarray(scores) >= MIN_CROP_KEYPOINT_SCORE
    if not confident.any():
        return None
    hips = [k for k in _HIPS if confident[k]]
    shoulders = [k for k in _SHOULDERS if confident[k]]
    if hips and shoulders:
        centre = points[hips].mean(axis=0)
        up = points[shoulders].mean(axis=0) - centre
        torso = float(np.hypot(*up))
    else:
        seen = points[confident]
        centre = (seen.min(axis=0) + seen.max(axis=0)) / 2
        up, torso = np.array([0.0, -1.0]), 0.0
    reach = float(np.hypot(*(points[confident] - centre).T).max())
    radius = max(TORSO_REACH * torso, BODY_REACH * reach)
    length = math.hypot(*up)
    if radius <= 0 or length == 0:
        return None
    return Roi.from_alignment_points(centre, centre + up / length * radius)


def _oks_to_proposal(keypoints: np.ndarray, proposal: MoveNetPoses, index: int) -> float:
    """OKS of COCO-17 keypoints (17, 2) against a proposal's confident keypoints, the area of
    their box as scale (0 without a confident keypoint)."""
    confident = proposal.keypoint_scores[index] >= MIN_CROP_KEYPOINT_SCORE
    if not confident.any():
        return 0.0
    seen = proposal.keypoints[index][confident]
    area = max(float(np.prod(seen.max(axis=0) - seen.min(axis=0))), 1.0)
    return object_keypoint_similarity(keypoints, proposal.keypoints[index], confident, area, COCO17_SIGMAS)


def proposal_similarity(a: MoveNetPoses, i: int, b: MoveNetPoses, j: int) -> float:
    """OKS of proposal i of `a` against proposal j of `b` (b's confident keypoints as reference)."""
    return _oks_to_proposal(a.keypoints[i], b, j)


def agreement(frame: PoseFrame, person: int, proposal: MoveNetPoses, index: int) -> float:
    """How well a found person fits its proposal: the OKS of their COCO-17 landmarks against
    the proposal's confident keypoints (0 without one)."""
    return _oks_to_proposal(frame.xy[person, list(frame.layout.coco17)], proposal, index)


class ProposalNetwork:
    """MoveNet MultiPose on `threads` threads: people proposed in one RGB image, best first."""

    def __init__(self, threads: int = 1, network: bytes | str = "movenet-multipose") -> None:
        """`network`: MultiPose's bytes, or its registry name (hash-checked)."""
        self._network = MoveNetNetwork(network, threads)

    @property
    def threads(self) -> int:
        return self._network.threads

    @threads.setter
    def threads(self, count: int) -> None:
        self._network.threads = count

    def run(self, rgb: np.ndarray, min_score: float = MULTIPOSE_MIN_SCORE) -> MoveNetPoses:
        """One MultiPose pass over an image at the input side its size gives (people scored
        at least `min_score`)."""
        prepared = prepare_multipose(rgb)
        return decode_multipose(self._network.run(prepared.tensor), prepared, min_score)

    def propose(self, rgb: np.ndarray) -> MoveNetPoses:
        """People in the whole image, with the corner tiles' when MultiPose is full or the image large."""
        found = self.run(rgb)
        height, width = rgb.shape[:2]
        if len(found) < MULTIPOSE_CAP and max(width, height) <= _TILED_LONG_SIDE:
            return found
        for x0, y0, x1, y1 in tiles((width, height)):
            tile = self.run(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
            shifted = MoveNetPoses(
                tile.keypoints + np.array([x0, y0]),
                tile.keypoint_scores,
                tile.boxes + np.array([x0, y0, x0, y0]),
                tile.scores,
            )
            new = [
                k
                for k in range(len(shifted))
                if all(
                    max(proposal_similarity(shifted, k, found, j), proposal_similarity(found, j, shifted, k))
                    < DUPLICATE_OKS
                    for j in range(len(found))
                )
            ]
            found = MoveNetPoses.concatenate([found, shifted[new]])
        return found


class CrowdEngine:
    """Image mode, several people: MultiPose proposals, BlazePose landmarks on each (not thread-safe)."""

    mode: RunningMode = "image"

    def __init__(self, landmarker: BlazePoseEngine, options: EstimatorOptions, threads: int = 1) -> None:
        self.options = options
        self._landmarker = landmarker
        self._proposals = ProposalNetwork(threads)

    @property
    def threads(self) -> int:
        return self._landmarker.threads

    @threads.setter
    def threads(self, count: int) -> None:
        self._landmarker.threads = count
        self._proposals.threads = count

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """Up to `num_poses` people in one RGB image, best score first."""
        check_rgb(rgb)
        size = (rgb.shape[1], rgb.shape[0])
        proposals = self._proposals.propose(rgb)
        found, scores = [], []
        for k in range(len(proposals)):
            roi = proposal_roi(proposals.keypoints[k], proposals.keypoint_scores[k])
            if roi is None:
                continue
            fits, person = self._look(rgb, roi, proposals, k)
            if person is None or fits < DUPLICATE_OKS:
                continue
            found.append(person)
            scores.append(person.mean_presence * fits)
        if not found:
            return PoseFrame.empty(size)
        frame = to_pose_frame(found, size, 0.0).replace(score=np.asarray(scores))
        frame = frame[np.argsort(-frame.score, kind="stable")]
        distinct = distinct_in_order(frame, parts_of_any=True)
        kept = most_prominent(frame, distinct, self.options.num_poses)
        return frame[kept].replace(people_seen=len(distinct))

    def _look(
        self, rgb: np.ndarray, roi: Roi, proposals: MoveNetPoses, index: int
    ) -> tuple[float, PersonEstimate | None]:
        """The landmarks that agree best with the proposal, and that agreement.

        First the proposal's region; when the landmarks disagree, the body circle alone
        (without the 1.25 margin); then, when the landmarks' own region differs from the one
        used (IoU < 0.9, the search's rule) and they agree with the proposal at less than 0.9
        (OKS), that region too. Skipping that look for landmarks that already agree at 0.9
        changed no found count or mean OKS on any annotated set and saved 2-7 ms per image on
        COCO, Human3.6M and the golden photo.
        """
        size = (rgb.shape[1], rgb.shape[0])
        best: tuple[float, PersonEstimate | None] = (0.0, None)

        def consider(region: Roi) -> None:
            nonlocal best
            person = self._landmarker.landmarks(rgb, region)
            if person is not None:
                fits = agreement(to_pose_frame([person], size, 0.0), 0, proposals, index)
                best = max(best, (fits, person), key=lambda look: look[0])

        consider(roi)
        if best[0] < DUPLICATE_OKS:
            consider(replace(roi, side=roi.side / ROI_SCALE))
        person = best[1]
        if person is not None and person.framing < WELL_FRAMED and best[0] < WELL_FRAMED:
            consider(person.next_roi())
        return best

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> CrowdEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ProposalRegions:
    """Video mode's look for new people: BlazePose regions from MultiPose proposals, best first.

    BlazePose's tracker hands each person's region from frame to frame; while fewer people are
    tracked than asked for, this replaces the detector's candidates (which see one prominent
    person) with one region per MultiPose person (`proposal_roi`). It is called on every frame
    with the number tracked, so it sees a person being lost: MultiPose then runs at once, else
    on every `every`-th frame while fewer than `wanted` are tracked (a newcomer waits at most
    that many frames; MultiPose, with its tiles on large frames, costs several landmark runs),
    and never while everyone asked for is tracked.
    """

    def __init__(self, wanted: int, threads: int = 1, every: int = PROPOSE_EVERY) -> None:
        self._proposals = ProposalNetwork(threads)
        self._wanted = wanted
        self._every = max(1, every)
        self._calls = 0
        self._tracked: int | None = None

    def __call__(self, rgb: np.ndarray, tracked: int) -> list[Roi]:
        """Regions for new people, given how many are tracked now (none on skipped frames)."""
        lost = self._tracked is None or tracked < self._tracked
        self._tracked = tracked
        if tracked >= self._wanted:
            return []
        self._calls = 0 if lost else self._calls + 1
        if self._calls % self._every:
            return []
        people = self._proposals.propose(rgb)
        regions = (proposal_roi(people.keypoints[k], people.keypoint_scores[k]) for k in range(len(people)))
        return [roi for roi in regions if roi is not None]
