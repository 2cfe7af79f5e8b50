"""The layout's promises that import-linter does not check: no import cycles at all (imports
inside functions included; imports only for type checking aside), and small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(
        "maqet_tui", "runner", include_external_packages=False, exclude_type_checking_imports=True
    )
    cycles = sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if graph.chain_exists(importer=imported, imported=module)
        }
    )
    assert cycles == []


def test_the_parts_are_folders() -> None:
    parts = {p.name for p in (ROOT / "maqet_tui").iterdir() if (p / "__init__.py").exists()}
    assert parts == {"cli", "common", "core", "fleet", "protocol", "store", "tui"}
    loose = sorted(p.name for p in (ROOT / "maqet_tui").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "entry.py"]


def test_no_module_over_400_lines() -> None:
    big = {
        str(p.relative_to(ROOT)): n
        for d in ("maqet_tui", "runner")
        for p in (ROOT / d).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert big == {}


def _name(node: ast.expr | None) -> str:
    return str(getattr(node, "attr", getattr(node, "id", "")))


def test_workers_are_given_functions_not_coroutines() -> None:
    """A worker cancelled before it starts never awaits a coroutine made for it (a "never
    awaited" warning at exit); a coroutine function or a partial is only called when it runs."""
    made_early = []
    for path in (ROOT / "maqet_tui" / "tui").rglob("*.py"):
        if path.name == "workers.py":  # the one place that hands Textual what it was given
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name, owner = _name(node.func), _name(getattr(node.func, "value", None))
            if name in ("run_worker", "_run_worker"):
                work = node.args[0]
            elif name == "start" and owner == "workers" and len(node.args) > 1:
                work = node.args[1]
            else:
                continue
            if isinstance(work, ast.Call) and _name(work.func) != "partial":
                made_early.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert made_early == []
