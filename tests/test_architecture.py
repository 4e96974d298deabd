"""Boundaries the architecture promises (DEVELOPERS.md)."""

import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "localpose"
IMPORTS_MEDIAPIPE = re.compile(r"^\s*(import mediapipe|from mediapipe)", re.MULTILINE)


def test_only_the_engine_module_imports_mediapipe():
    importers = sorted(
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if IMPORTS_MEDIAPIPE.search(p.read_text())
    )
    assert importers == ["engine.py"]


def test_importing_localpose_does_no_heavy_work():
    code = (
        "import sys, localpose; print(sorted(m for m in ('mediapipe', 'cv2', 'fastapi') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
