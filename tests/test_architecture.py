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


def _import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the localpose modules it imports (at module level or inside functions)."""
    import ast

    def name_of(path: Path) -> str:
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        graph[module] = {m for m in found if m in modules and m != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                out.append(sorted([v, *group]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


FACES = ("localpose.cli", "localpose.server", "localpose.bench")


def _layering_problems(graph: dict[str, set[str]]) -> list[str]:
    problems = [f"import cycle: {' <-> '.join(c)}" for c in _cycles(graph)]
    for module, imported in sorted(graph.items()):
        if not module.startswith(FACES):
            problems += [f"{module} imports the face {m}" for m in sorted(imported) if m.startswith(FACES)]
        if module.startswith(("localpose.engine", "localpose.runtime")):
            stages = ("localpose.smooth", "localpose.track", "localpose.multiperson", "localpose.crowd")
            problems += [f"{module} reaches into {m}" for m in sorted(imported) if m.startswith(stages)]
    return problems


def test_layering_holds():
    """The library never imports its faces (cli, server, bench); no module imports round a loop;
    the engine and runtime do not reach into the stages around them (tracking, smoothing,
    finding several people)."""
    assert _layering_problems(_import_graph()) == []


def test_layering_check_catches_an_upward_import_and_a_cycle(tmp_path):
    """Planted faults: the checker must see them."""
    package = tmp_path / "localpose"
    (package / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli" / "__init__.py").write_text("")
    (package / "result.py").write_text("from localpose.cli import main\n")
    (package / "a.py").write_text("def f():\n    from localpose import b\n")
    (package / "b.py").write_text("import localpose.a\n")
    problems = _layering_problems(_import_graph(package))
    assert "localpose.result imports the face localpose.cli" in problems
    assert "import cycle: localpose.a <-> localpose.b" in problems
