"""Shared fixtures: the real data in ../shared/data and one real model for the session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from localpose.models import ModelBundle, load_model
from localpose.options import ModelOptions

REPO = Path(__file__).resolve().parents[1]


def _find_data_dir() -> Path:
    """$LOCALPOSE_TEST_DATA, else ../shared/data beside the checkout, else /work/shared/data."""
    candidates = [
        os.environ.get("LOCALPOSE_TEST_DATA"),
        REPO.parent / "shared" / "data",
        Path("/work/shared/data"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "SOURCES.md").is_file():
            return Path(candidate)
    raise RuntimeError(
        "test data not found: set LOCALPOSE_TEST_DATA to the shared data folder "
        f"(looked in {', '.join(str(c) for c in candidates if c)})"
    )


DATA = _find_data_dir()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `mediapipe` need MediaPipe Tasks (the localpose[mediapipe] extra)."""
    from localpose.engine import mediapipe_version

    if mediapipe_version() is not None:
        return
    skip = pytest.mark.skip(reason="needs MediaPipe Tasks: pip install 'localpose[mediapipe]'")
    for item in items:
        if "mediapipe" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def model(model_cache: Path) -> ModelBundle:
    """The bundled full model, built once per session into a fresh cache."""
    return load_model(ModelOptions(cache_dir=model_cache))


@pytest.fixture(scope="session")
def pose_jpg() -> Path:
    return DATA / "mediapipe" / "pose.jpg"


@pytest.fixture(scope="session")
def pose_expected() -> dict:
    return json.loads((DATA / "mediapipe" / "pose_expected.json").read_text())


@pytest.fixture(scope="session")
def coco_truth() -> dict:
    return json.loads((DATA / "images" / "coco" / "coco_person_keypoints.json").read_text())


@pytest.fixture(scope="session")
def coco_photos(coco_truth: dict) -> dict[int, Path]:
    """The annotated COCO photos by image id."""
    return {image["id"]: DATA / "images" / "coco" / image["file_name"] for image in coco_truth["images"]}
