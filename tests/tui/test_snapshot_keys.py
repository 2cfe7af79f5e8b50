"""The Snapshots table under the keyboard (j/k), and what reverting a stopped VM says it does."""

from __future__ import annotations

from collections.abc import Callable

from maqet_tui.core.definitions import add_with_disks
from maqet_tui.core.manager import Manager
from maqet_tui.core.peer_yaml import NewDisk
from maqet_tui.core.snapshots import snapshot
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen

from .conftest import focused, snapshot_pane, static_text, status_cell, wait_until

MakeApp = Callable[..., MaqetApp]


async def test_jk_move_and_a_stopped_revert_names_only_the_disks(
    make_app: MakeApp, manager: Manager
) -> None:
    disk = NewDisk("d0", "32M", None, None, "virtio", "disk")
    add_with_disks(manager, "s", {"memory": 64, "accel": "tcg"}, [disk])
    manager.start("s")
    snapshot(manager, "s", "create", "warm")  # running: RAM and disks
    manager.stop("s", force=True)
    snapshot(manager, "s", "create", "cold")  # stopped: disks only
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "s") == "stopped", "s listed")
        pane = snapshot_pane(app)
        await pilot.press("6")
        await wait_until(pilot, lambda: pane.table.row_count == 2, "both snapshots")
        await pilot.press("enter")
        assert focused(app) is pane.table
        assert pane.selected_tag == "warm"
        await pilot.press("j")
        assert pane.selected_tag == "cold"
        await pilot.press("k")
        assert pane.selected_tag == "warm"

        await wait_until(pilot, lambda: pane.can("revert"), "revert possible")
        await pilot.press("V")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        body = static_text(app.screen.query_one(".dialog-body"))
        assert "The disks of s go back" in body and "not used" in body, body
        assert "how it was" not in body
        await pilot.press("n")
