"""The Stats tab and the table's CPU trend, fed by a running tiny VM's `stats` subscription."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Sparkline, Static

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.services.history import StatsHistory, spark
from maqet_tui.tui.widgets.stats_pane import StatsPane
from maqet_tui.tui.widgets.vm_table import TREND, VMTable
from runner.stats import INTERVAL_ENV

from .conftest import main_screen, status_cell, wait_until

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


async def test_stats_tab_plots_a_running_vm(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0.1")  # read by the runner
    tiny_vm("vm1")
    manager.start("vm1")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        await pilot.press("7")
        pane = main_screen(app).query_one(StatsPane)
        await wait_until(pilot, lambda: pane.points >= 3, "three samples in the Stats tab")
        for plot in ("cpu", "mem", "disk", "io"):
            line = pane.query_one(f"#stats-{plot}", Sparkline)
            assert line.data and len(line.data) >= 3 and line.region.height > 0
        assert max(pane.query_one("#stats-mem", Sparkline).data or [0]) > 1 << 20
        title = pane.query_one("#stats-mem-title", Static)
        assert str(title.render()).startswith("Memory (RSS): ") and "M" in str(title.render())
        table = main_screen(app).query_one(VMTable)
        assert TREND[0] in {str(k.value) for k in table.columns}  # 120 columns: room for it
        await wait_until(
            pilot, lambda: table._trends.get(table.ids[0], "").strip() != "", "a CPU trend"
        )


async def test_no_trend_column_at_80_columns(make_app: MakeApp, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = main_screen(app).query_one(VMTable)
        await wait_until(pilot, lambda: table.ids != [], "the VM listed")
        assert TREND[0] not in {str(k.value) for k in table.columns}
        await pilot.resize_terminal(120, 30)
        await wait_until(
            pilot, lambda: TREND[0] in {str(k.value) for k in table.columns}, "the trend column"
        )


def test_history_replay_replaces_and_spark_scales() -> None:
    h = StatsHistory(keep=3)
    h.add("a", {"cpu": 1.0})
    h.add("a", {"replay": True, "samples": [{"cpu": 10.0}, {"cpu": 20.0}]})
    h.add("a", {"cpu": 30.0, "disk_read": 5, "disk_write": None})
    h.add("a", {"cpu": 40.0})
    assert h.series("a", "cpu") == [20.0, 30.0, 40.0]
    assert h.series("a", "disk_read", "disk_write") == [0.0, 5.0, 0.0]
    h.keep_only([])
    assert h.samples("a") == []
    assert spark([0, 50, 100], 4) == " ▁▅█"
    assert spark([400, 0], 2) == "█▁"  # above 100 %: scaled to the largest
    assert spark([], 3) == ""
