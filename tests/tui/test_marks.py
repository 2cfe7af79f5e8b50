"""Marks: bulk actions reach every marked VM, the count is shown, and a bulk ends in one summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.ops import summary

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


def test_summary_names_each_failure() -> None:
    assert summary("started", 3, []) == "started 3 of 3"
    assert summary("started", 10, [("web-3", "boom")]) == "started 9 of 10: web-3 failed: boom"
    assert summary("stopped", 3, [("a", "x"), ("b", "y")]) == (
        "stopped 1 of 3: a failed: x; b failed: y"
    )
