"""BlazePose on LiteRT: MediaPipe's pose graph re-created around the two networks.

It runs the same networks as MediaPipe Tasks' PoseLandmarker and re-creates the parts of
MediaPipe's graph that matter for the result (`detector`, `landmarks`, `regions`):

  image mode  the detector finds people, the landmark network runs on each one's region;
  video mode  each person's next region comes from their helper landmarks (33, 34); the
              detector runs only while fewer people are tracked than asked for, and its
              boxes that overlap a tracked region are dropped. A single person's landmarks
              pass MediaPipe's own One Euro filter, as MediaPipe Tasks does (several people
              are returned unfiltered, also as Tasks does);
  search      image mode with `EstimatorOptions.search_images`: look for everyone, detector
              first (`BlazePoseEngine._search`, docs/multiperson.md), something MediaPipe's
              closed graph cannot do.

Why: the networks are most of the cost, and MediaPipe's graph around them adds ~30% more
work per frame; here the graph costs well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from localpose.blazepose.detector import DETECTOR_SIZE, PoseDetector
from localpose.blazepose.landmarks import LandmarkNetwork, PersonEstimate
from localpose.blazepose.regions import Roi
from localpose.engine.interface import RunningMode, VideoClock, check_rgb
from localpose.metrics import distinct_in_order
from localpose.options import EstimatorOptions
from localpose.result import PoseFrame
from localpose.runtime.litert import ByThreadCount
from localpose.schema import NUM_LANDMARKS
from localpose.smooth import OneEuroSmoother

__all__ = ["BlazePoseEngine", "search_input_shape", "to_pose_frame"]

# The image-mode search for several people (see BlazePoseEngine._search):
_SEARCH_LONG_SIDE = 2 * DETECTOR_SIZE  # detector input: people look twice as large as at 224
_SEARCH_SCORE_FACTOR = 0.3  # second-chance detections: down to 0.3x min_detection_confidence
_SECOND_CHANCE_PRESENCE = 0.9  # ...kept when the mean landmark presence reaches this
_WELL_FRAMED = 0.9  # ...and looked at again unless their landmarks' region has IoU >= this with it


def search_input_shape(width: int, height: int, long_side: int = _SEARCH_LONG_SIDE) -> tuple[int, int]:
    """Detector input (width, height) for the search: the image's aspect, sides multiples of 32."""
    short = max(32, round(min(width, height) * long_side / max(width, height) / 32) * 32)
    return (long_side, short) if width >= height else (short, long_side)


class BlazePoseEngine:
    """BlazePose's detector and landmark networks on LiteRT (not thread-safe).

    `threads` is how many threads each network runs on; set `engine.threads` between frames
    to use idle cores for a lone request and one core under load (results are bit-identical).
    """

    def __init__(
        self,
        detector: bytes,
        landmarks: bytes,
        options: EstimatorOptions,
        mode: RunningMode = "image",
        threads: int = 1,
        proposer: Callable[[np.ndarray, int], list[Roi]] | None = None,
    ) -> None:
        """`proposer(rgb, tracked)`: where new people are looked for in video mode instead of the
        detector's candidates, given how many are tracked (`localpose.crowd.ProposalRegions`)."""
        self._proposer = proposer
        self.mode: RunningMode = mode
        self.options = options
        self._search_images = mode == "image" and options.search_images
        self._networks = ByThreadCount(
            lambda n: (
                PoseDetector(detector, n),
                LandmarkNetwork(landmarks, options.segmentation, n),
            ),
            threads,
        )
        self.detector, self._landmarks = self._networks.current
        self._tracked: list[Roi] = []
        self._smoother: OneEuroSmoother | None = None
        self._clock = VideoClock()

    @property
    def threads(self) -> int:
        return self._networks.count

    @threads.setter
    def threads(self, count: int) -> None:
        """Run the networks on `count` threads from the next frame on (built on first use)."""
        self._networks.count = count
        self.detector, self._landmarks = self._networks.current

    # -- the two networks ----------------------------------------------------------------------

    def detect(self, rgb: np.ndarray) -> list[tuple[float, Roi]]:
        """Pose detector candidates as (score, landmark ROI), best first, after suppression."""
        return self.detector.detect(rgb, self.options.min_detection_confidence)

    def landmarks(self, rgb: np.ndarray, roi: Roi) -> PersonEstimate | None:
        """The person in `roi`, or None when the model's presence score is below the threshold."""
        return self._landmarks.estimate(rgb, roi, self.options.min_presence_confidence)

    # -- the PoseEngine interface --------------------------------------------------------------

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """Poses in one RGB uint8 image (video mode: tracked from the previous frame)."""
        check_rgb(rgb)
        if self._search_images:
            return self._search(rgb)
        if self.mode == "video":
            timestamp_ms = self._clock.advance(timestamp_ms)
        height, width = rgb.shape[:2]
        rois, left_out = self._rois_for(rgb)
        tracked = min(len(self._tracked), self.options.num_poses)  # the first `tracked` rois
        found = [(k, self.landmarks(rgb, roi)) for k, roi in enumerate(rois)]
        people = [p for _k, p in found if p]
        still_tracked = sum(1 for k, p in found if p and k < tracked)
        people = _distinct(people, (width, height), still_tracked)
        frame = to_pose_frame(people, (width, height), float(timestamp_ms))
        if self.mode == "image":
            frame = frame.replace(people_seen=len(frame) + left_out)
        if self.mode == "video":
            self._tracked = [p.next_roi() for p in people]
            frame = self._filtered(frame, [roi.side for roi in self._tracked], was_tracking=tracked > 0)
        return frame

    def _search(self, rgb: np.ndarray) -> PoseFrame:
        """Image mode, looking for everyone: the detector's 224x224 view of the whole image
        finds the most prominent person; small and half-hidden people need a closer look.

        1. The detector runs once on an input twice as large (448 px on the long side, the
           image's aspect), so people look twice as large; candidates down to 0.3x
           min_detection_confidence are kept. A candidate that fills the frame (region side
           >= the image's long side) is larger than any person the detector learnt from at
           that scale: it is replaced by what the detector's usual 224x224 view finds.
        2. Each candidate, most confident first, gets one landmark run. A weak (second-chance)
           candidate gets a second run on the region its landmarks give, as tracking would,
           unless that region is nearly the one used (IoU >= 0.9): a weak detection frames
           the person loosely (this raises their OKS on the COCO photos by 0.06 on average).
           Confident ones are used as MediaPipe uses them.
        3. A weak candidate counts only when its landmarks are confidently inside the image
           (mean presence >= 0.9): this drops faces the detector sees in clutter.
        4. Repeats go (`_distinct`, best-framed first): OKS >= 0.5 with a kept person, or a box
           80% inside a kept person's box and less than half its area (a limb taken for a
           person; people behind others are usually about as large).
        """
        height, width = rgb.shape[:2]
        options = self.options
        min_score = options.min_detection_confidence
        weaker = min_score * _SEARCH_SCORE_FACTOR
        close = self.detector.detect(rgb, min_score, search_input_shape(width, height), weaker)
        candidates = [(score, roi) for score, roi in close if roi.side < max(width, height)]
        if len(candidates) < len(close):  # someone fills the frame: the usual view sees them
            candidates = self.detector.detect(rgb, min_score, second_chance=weaker) + candidates
        people: list[PersonEstimate] = []
        found_at: list[Roi] = []  # the regions people were found in
        for score, roi in candidates:
            if len(people) >= options.num_poses:
                break
            if any(roi.same_centre(seen) for seen in found_at):  # overlapping people stay apart
                continue
            person = self.person_in(rgb, roi, look_again=score < min_score)
            if person is None:
                continue
            if score < min_score and person.mean_presence < _SECOND_CHANCE_PRESENCE:
                continue
            found_at += [roi, person.next_roi()]
            ranked = sorted([*people, person], key=lambda p: -p.framing)
            kept = _distinct(ranked, (width, height), parts_of_any=True)
            people = [p for p in [*people, person] if any(p is k for k in kept)]
        return to_pose_frame(people, (width, height), 0.0)

    def person_in(self, rgb: np.ndarray, roi: Roi, look_again: bool) -> PersonEstimate | None:
        """The person in `roi`; with `look_again`, looked at again in the region their landmarks
        give, unless that region is nearly the one used (nothing to gain from a second run)."""
        person = self.landmarks(rgb, roi)
        if person is None or not look_again or person.framing >= _WELL_FRAMED:
            return person
        return self.landmarks(rgb, person.next_roi()) or person

    def _filtered(self, frame: PoseFrame, roi_sides: list[float], was_tracking: bool) -> PoseFrame:
        """MediaPipe's landmark smoothing in video mode: its One Euro filter (min cutoff 0.05,
        beta 80; world 0.1, 40; speeds relative to the crop's side) on a single tracked person,
        restarted whenever tracking was lost. Like MediaPipe Tasks, several people are returned
        unfiltered."""
        if self.options.num_poses != 1 or len(frame) != 1:
            self._smoother = None
            return frame
        if self._smoother is None or not was_tracking:
            self._smoother = OneEuroSmoother()
        return self._smoother.update(frame.replace(track_id=[0]), roi_sides).replace(track_id=None)

    def _rois_for(self, rgb: np.ndarray) -> tuple[list[Roi], int]:
        """ROIs to run the landmark model on (tracked people first, then new detections), and
        how many more distinct detections there were beyond `num_poses`."""
        wanted = self.options.num_poses
        rois = list(self._tracked[:wanted])  # only video mode tracks
        left_out: list[Roi] = []
        proposed: list[Roi] = []
        if self._proposer is not None:  # told on every frame, so it sees someone being lost
            proposed = self._proposer(rgb, len(rois))
        elif len(rois) < wanted:
            proposed = [roi for _score, roi in self.detect(rgb)]
        for roi in proposed:
            kept_so_far = rois + left_out
            if not any(roi.same_place(kept, self.options.min_tracking_confidence) for kept in kept_so_far):
                (rois if len(rois) < wanted else left_out).append(roi)
        return rois, len(left_out)

    def close(self) -> None:
        self._tracked, self._smoother = [], None

    def __enter__(self) -> BlazePoseEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _distinct(
    people: list[PersonEstimate], image_size: tuple[int, int], tracked: int = 0, parts_of_any: bool = False
) -> list[PersonEstimate]:
    """People in order (the `tracked` ones first) without repeats and parts (`distinct_in_order`).

    A repeat's ROI stops being tracked, so the detector can look for others.
    """
    if len(people) < 2:
        return people
    kept = distinct_in_order(to_pose_frame(people, image_size, 0.0), tracked, parts_of_any)
    return [people[i] for i in kept]


def to_pose_frame(
    people: list[PersonEstimate], image_size: tuple[int, int], timestamp_ms: float
) -> PoseFrame:
    """People's raw estimates as one PoseFrame (score: mean landmark presence)."""
    if not people:
        return PoseFrame.empty(image_size, timestamp_ms)
    landmarks = np.stack([p.landmarks[:NUM_LANDMARKS] for p in people])
    presence = landmarks[:, :, 4]
    masks = np.stack([p.mask for p in people]) if people[0].mask is not None else None
    return PoseFrame(
        image_size=image_size,
        xy=landmarks[:, :, :2],
        z=landmarks[:, :, 2],
        visibility=landmarks[:, :, 3],
        presence=presence,
        world=np.stack([p.world for p in people]),
        score=presence.mean(axis=1),
        timestamp_ms=timestamp_ms,
        masks=masks,
    )
