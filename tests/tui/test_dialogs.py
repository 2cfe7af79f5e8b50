"""Dialogs: the confirm dialog's keys and the add/edit form's errors and cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import Button, Input

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.screens.vm_form import VMFormScreen

from .conftest import focused, select, static_text, table_names, wait_until

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


async def test_the_form_shows_every_problem_after_one_enter(
    make_app: MakeApp, manager: Manager
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, VMFormScreen), "form")
        form = app.screen
        assert isinstance(form, VMFormScreen)
        form.query_one("#f-name", Input).value = "bad/name"
        form.query_one("#f-memory", Input).value = "lots"
        form.query_one("#f-kernel", Input).value = "/no/such/kernel"
        form.query_one("#f-initrd", Input).value = "/no/such/initrd"
        form.query_one("#f-append", Input).value = "console=ttyS0"
        form.query_one("#f-qemu_args", Input).value = "-qmp stdio"
        form.submit()
        await wait_until(pilot, lambda: form.query_one("#err-name").has_class("-shown"), "errors")
        shown = {
            field: static_text(form.query_one(f"#err-{field}"))
            for field in ("name", "memory", "kernel", "initrd", "append", "qemu_args")
            if form.query_one(f"#err-{field}").has_class("-shown")
        }
        assert set(shown) == {"name", "memory", "kernel", "initrd", "qemu_args"}, shown
        assert "no/such/kernel" in shown["kernel"] and "no/such/initrd" in shown["initrd"]
        assert "managed by maqet-tui" in shown["qemu_args"]
        assert app.screen is form and manager.list() == []


async def test_esc_asks_before_throwing_away_what_was_typed(
    make_app: MakeApp, manager: Manager
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, VMFormScreen), "form")
        await pilot.press("escape")  # nothing typed: leaves at once
        await wait_until(pilot, lambda: not isinstance(app.screen, VMFormScreen), "form gone")

        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, VMFormScreen), "form")
        form = app.screen
        await pilot.press(*"web-1", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is form, "back in the form")
        assert form.query_one("#f-name", Input).value == "web-1"

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
        await pilot.press("y")
        await wait_until(
            pilot, lambda: not isinstance(app.screen, (VMFormScreen, ConfirmScreen)), "gone"
        )
    assert manager.list() == []
