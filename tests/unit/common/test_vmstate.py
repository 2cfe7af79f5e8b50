"""The one status vocabulary: how its named sets relate, and that nobody spells a set of statuses
inline instead of naming one of them."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from maqet_tui.common import vmstate
from maqet_tui.common.vmstate import Status

ROOT = Path(__file__).resolve().parents[3]
NAMES = frozenset(s.value for s in Status)
QUOTED = re.compile("['\"](" + "|".join(sorted(NAMES)) + ")['\"]")


def test_statuses_are_plain_strings() -> None:
    assert [s.value for s in Status] == [
        "stopped",
        "starting",
        "running",
        "paused",
        "stopping",
        "crashed",
    ]
    assert json.dumps(Status.RUNNING) == '"running"' and f"{Status.PAUSED}" == "paused"
    assert "running" in vmstate.QEMU_UP and "stopped" not in vmstate.QEMU_UP


def test_set_relations() -> None:
    assert frozenset(Status) == vmstate.ALL and len(vmstate.ALL) == 6
    assert vmstate.QEMU_UP < vmstate.LIVE
    assert vmstate.STARTABLE.isdisjoint(vmstate.LIVE)
    assert vmstate.STARTABLE | vmstate.LIVE == vmstate.ALL
    assert {Status.STARTING, Status.STOPPING} == vmstate.TRANSITIONAL
    assert vmstate.SETTLED == vmstate.STARTABLE | vmstate.QEMU_UP
    assert {Status.STOPPING, Status.STOPPED} == vmstate.STOP_REQUESTED


def _inline_sets(source: str) -> list[int]:
    """Lines where a tuple, list or set literal holds two or more quoted status names, or a
    string (SQL, say) spells two or more of them quoted."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            named = [
                e
                for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in NAMES
            ]
            if len(named) >= 2:
                found.append(node.lineno)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and len(QUOTED.findall(node.value)) >= 2
        ):
            found.append(node.lineno)
    return found


def test_scan_sees_inline_sets() -> None:
    assert _inline_sets('x in ("running", "paused")\n') == [1]
    assert _inline_sets('S = frozenset({"stopped", "crashed"})\n') == [1]
    assert _inline_sets("q = \"WHERE status IN ('starting', 'running')\"\n") == [1]
    assert _inline_sets('x in ("paused", "prelaunch")\nx == "running"\n') == []


def test_no_inline_status_sets() -> None:
    files = [*(ROOT / "maqet_tui").rglob("*.py"), *(ROOT / "runner").rglob("*.py")]
    assert len(files) > 20
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(files)
        if path != ROOT / "maqet_tui" / "common" / "vmstate.py"
        for line in _inline_sets(path.read_text())
    ]
    assert offenders == [], "name a set in maqet_tui/common/vmstate.py instead"
