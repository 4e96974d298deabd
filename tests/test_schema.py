"""The landmark tables are consistent with MediaPipe's published topology."""

from localpose import schema


def test_33_unique_names_in_mediapipe_order(pose_expected):
    assert schema.NUM_LANDMARKS == 33
    assert list(schema.LANDMARK_NAMES) == pose_expected["landmark_names"]


def test_skeleton_has_mediapipe_35_connections_without_repeats():
    edges = {tuple(sorted(e)) for e in schema.SKELETON_EDGES}
    assert len(schema.SKELETON_EDGES) == 35 == len(edges)
    assert all(0 <= a < 33 and 0 <= b < 33 and a != b for a, b in schema.SKELETON_EDGES)
    # as in MediaPipe, the face, the mouth and the body are three separate pieces
    assert sorted(map(sorted, _components(schema.SKELETON_EDGES))) == [
        list(range(0, 9)),
        [9, 10],
        list(range(11, 33)),
    ]


def _components(edges):
    parent = list(range(33))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in edges:
        parent[root(a)] = root(b)
    groups = {}
    for i in range(33):
        groups.setdefault(root(i), set()).add(i)
    return list(groups.values())


def test_mirror_swaps_every_left_with_its_right():
    assert len(schema.LEFT_RIGHT_PAIRS) == 16
    for i, name in enumerate(schema.LANDMARK_NAMES):
        mirrored = schema.LANDMARK_NAMES[schema.MIRROR_INDEX[i]]
        if name == "nose":
            assert mirrored == "nose"
        else:
            assert mirrored != name
            assert mirrored.replace("right", "left") == name.replace("right", "left")
    assert [schema.MIRROR_INDEX[j] for j in schema.MIRROR_INDEX] == list(range(33))


def test_coco17_mapping_matches_the_published_table():
    # ../shared/data/SOURCES.md: COCO index -> MediaPipe index
    assert schema.COCO17_FROM_LANDMARKS == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
    assert len(schema.COCO17_SIGMAS) == 17
    assert schema.LANDMARK_SIGMAS[schema.LANDMARK_INDEX["left_heel"]] == schema.COCO17_SIGMAS[15]


def test_body25_neck_and_midhip_are_derived():
    names = schema.BODY25_NAMES
    assert len(names) == len(schema.BODY25_FROM_LANDMARKS) == 25
    neck = schema.BODY25_FROM_LANDMARKS[names.index("Neck")]
    assert {schema.LANDMARK_NAMES[i] for i in neck} == {"left_shoulder", "right_shoulder"}
    assert schema.BODY25_FROM_LANDMARKS[names.index("LSmallToe")] == ()
