"""The layout's promises that import-linter does not check: no import cycles at all (imports
inside functions included; imports only for type checking aside), and small modules."""

from __future__ import annotations

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
