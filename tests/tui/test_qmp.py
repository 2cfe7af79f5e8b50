"""The QMP pane: what its transcript shows, the commands it asks about, and its history."""

from __future__ import annotations

import stat
from collections.abc import Callable
from typing import Any

from textual.widgets import RichLog

from maqet_tui.common.paths import Paths
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.widgets.history_input import HISTORY
from maqet_tui.tui.widgets.qmp_console import QMPInput
from maqet_tui.tui.widgets.vm_table import VMTable
from tests.helpers import Env

from .conftest import (
    RunningApp,
    focused,
    log_text,
    main_screen,
    select,
    status_cell,
    wait_until,
)

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


def transcript(app: MaqetApp) -> list[str]:
    return log_text(main_screen(app).query_one("#qmp-log", RichLog)).splitlines()


async def test_a_separator_only_where_the_transcript_changes_vm(
    make_app: MakeApp, tiny_vm: TinyVM
) -> None:
    tiny_vm("vm0")
    tiny_vm("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "listed")
        await pilot.press("2", "escape")  # the QMP tab takes focus; esc: back to the list
        for name in ("vm1", "vm0", "vm1", "vm0"):
            await select(pilot, app, name)
        assert transcript(app) == []  # browsing writes nothing

        await pilot.press("enter", *"query-status", "enter", *"query-status", "enter")
        await wait_until(pilot, lambda: len(transcript(app)) == 5, "two answers")
        assert transcript(app)[0] == "── vm0 ──"
        assert transcript(app).count("── vm0 ──") == 1

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(focused(app), VMTable), "back in the list")
        await select(pilot, app, "vm1")
        await select(pilot, app, "vm0")
        await select(pilot, app, "vm1")
        assert len(transcript(app)) == 5
        await pilot.press("enter", *"query-status", "enter")
        await wait_until(pilot, lambda: len(transcript(app)) == 8, "an answer about vm1")
        assert transcript(app)[5] == "── vm1 ──"


async def test_hmp_text_and_the_commands_that_ask(running_app: RunningApp) -> None:
    async with running_app() as (app, pilot):
        await pilot.press("2", "enter")
        await pilot.press(*'human-monitor-command {"command-line": "info status"}', "enter")
        await wait_until(pilot, lambda: "VM status: running" in transcript(app), "plain text")

        await pilot.press(*"system_reset", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "reset asks")
        await pilot.press("n")
        await wait_until(pilot, lambda: "✗ not sent" in transcript(app), "not sent")
        for command in ("system_powerdown", "quit"):
            await pilot.press(*command, "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), command)
            if command == "quit":
                await pilot.press("y")
            else:
                await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closed")
        assert transcript(app).count("✗ not sent") == 2
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "quit went through")


async def test_history_outlives_the_tui_privately_and_bounded(
    make_app: MakeApp, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    path = Paths.resolve(env.home).qmp_history
    path.write_text("".join(f"old-{i}\n" for i in range(HISTORY + 50)))
    path.chmod(0o644)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "listed")
        await pilot.press("2", "enter", *"query-status", "enter", *"query-kvm", "enter")
        box = main_screen(app).query_one(QMPInput)
        await wait_until(pilot, lambda: box.history[-1] == "query-kvm", "remembered")
    lines = path.read_text().splitlines()
    assert len(lines) == HISTORY and lines[-2:] == ["query-status", "query-kvm"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "listed")
        await pilot.press("2", "enter", "up", "up")
        box = main_screen(app).query_one(QMPInput)
        assert box.value == "query-status"
