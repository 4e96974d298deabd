"""Boundaries the architecture promises (DEVELOPERS.md)."""

import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "localpose"


def _importers(package: str) -> list[str]:
    pattern = re.compile(rf"^\s*(import {package}|from {package})\b", re.MULTILINE)
    return sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text()))


def test_each_runtime_is_imported_by_its_engine_module_only():
    assert _importers("mediapipe") == ["engine/tasks.py"]
    assert _importers("ai_edge_litert") == ["runtime/litert.py"]


def test_optional_consumers_are_imported_by_one_module_each():
    assert _importers("opensim") == ["analysis/kinematics.py"]
    assert _importers("ezc3d") == ["export/c3d.py"]
    assert _importers("Pose2Sim") == []  # its setup files are located, the package never imported


def test_importing_localpose_does_no_heavy_work():
    heavy = ("mediapipe", "ai_edge_litert", "cv2", "fastapi")
    code = f"import sys, localpose; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
