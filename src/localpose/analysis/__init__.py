"""Analysis on top of poses: joint angles, repetition counting, similarity, BVH export, action classes.

Everything here works on `PoseFrame`s (or one person's `PersonSeries`) and knows nothing
about HTTP; conventions, thresholds and formulas are in docs/analysis.md.
"""

from localpose.analysis.angles import (
    ANGLE_NAMES,
    ANGLES,
    JOINT_ANGLE_NAMES,
    SEGMENT_ANGLE_NAMES,
    AngleDef,
    add_angles_to_document,
    angle_rows,
    compute_angles,
    frame_angles,
    person_angles,
    write_angles_csv,
)
from localpose.analysis.bvh import BvhMotion, read_bvh, write_bvh
from localpose.analysis.classify import PoseClassifier, frame_features, label_segments, pose_features
from localpose.analysis.reps import (
    EXERCISES,
    ExerciseSpec,
    Rep,
    RepCounter,
    RepOptions,
    RepReport,
    RepUpdate,
    count_reps,
    exercise_spec,
)
from localpose.analysis.series import PersonSeries, main_track_id
from localpose.analysis.similarity import (
    MotionReport,
    SimilarityOptions,
    SimilarityReport,
    compare_motions,
    compare_poses,
    pose_similarity,
)

__all__ = [
    "ANGLES",
    "ANGLE_NAMES",
    "EXERCISES",
    "JOINT_ANGLE_NAMES",
    "SEGMENT_ANGLE_NAMES",
    "AngleDef",
    "BvhMotion",
    "ExerciseSpec",
    "MotionReport",
    "PersonSeries",
    "PoseClassifier",
    "Rep",
    "RepCounter",
    "RepOptions",
    "RepReport",
    "RepUpdate",
    "SimilarityOptions",
    "SimilarityReport",
    "add_angles_to_document",
    "angle_rows",
    "compare_motions",
    "compare_poses",
    "compute_angles",
    "count_reps",
    "exercise_spec",
    "frame_angles",
    "frame_features",
    "label_segments",
    "main_track_id",
    "person_angles",
    "pose_features",
    "pose_similarity",
    "read_bvh",
    "write_angles_csv",
    "write_bvh",
]
