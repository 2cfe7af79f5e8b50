"""Dialogs: the confirm dialog's keys and the add/edit form's errors and cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Button

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen

from .conftest import focused, select, table_names, wait_until

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


async def test_arrows_never_wrap_round_to_the_destructive_button(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("gone")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: table_names(app) == ["gone"], "listed")
        await select(pilot, app, "gone")
        for keys in (("right",), ("tab",), ("right", "right", "tab")):
            await pilot.press("D")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "dialog")
            await pilot.press(*keys)
            cancel = app.screen.query_one("#cancel", Button)
            assert focused(app) is cancel, keys
            await pilot.press("enter")
            await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closed")
            assert [vm["name"] for vm in manager.list()] == ["gone"], keys

        # ← reaches the destructive button on purpose, and stays there.
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "dialog")
        await pilot.press("left", "left", "shift+tab")
        assert focused(app) is app.screen.query_one("#confirm", Button)
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closed")
    assert [vm["name"] for vm in manager.list()] == ["gone"]
