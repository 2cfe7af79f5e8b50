"""`N` makes the demo VM (from the cached guest here) with a progress dialog that ends on
"start it and watch the console"; the empty store says so on first run."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import CommandPalette
from textual.widgets import Button, ProgressBar

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.messages import DemoFinished, DemoProgress
from maqet_tui.tui.screens.demo import DemoScreen

from .conftest import console_log, main_screen, static_text, status_cell, wait_until

MakeApp = Callable[..., MaqetApp]


async def test_demo_key_from_an_empty_store(make_app: MakeApp, manager: Manager) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        overview = static_text(main_screen(app).query_one("#overview-body"))
        assert "No VMs yet" in overview and "Press N to make the demo VM" in overview

        await pilot.press("N")
        await wait_until(pilot, lambda: isinstance(app.screen, DemoScreen), "the demo dialog")
        dialog = app.screen
        assert isinstance(dialog, DemoScreen)
        await wait_until(pilot, lambda: dialog.finished, "the demo VM made")
        assert "demo is defined" in static_text(dialog.query_one("#demo-step"))
        assert dialog.query_one(ProgressBar).percentage == 1.0
        start = dialog.query_one("#start", Button)
        assert start.display and app.focused is start
        assert [vm["name"] for vm in manager.list()] == ["demo"]

        await pilot.press("enter")  # start it and watch the console
        await wait_until(pilot, lambda: app.screen is main_screen(app), "dialog closed")
        await wait_until(pilot, lambda: main_screen(app).detail_tab == "tab-console", "console")
        await wait_until(pilot, lambda: status_cell(app, "demo") == "running", "demo running")
        await wait_until(pilot, lambda: console_log(app).connected, "its console followed")


async def test_demo_in_the_palette(make_app: MakeApp, manager: Manager) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
        await pilot.press(*"demo vm", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DemoScreen), "the demo dialog")
        dialog = app.screen
        assert isinstance(dialog, DemoScreen)
        await wait_until(pilot, lambda: dialog.finished, "the demo VM made")
        await pilot.press("escape")
        await wait_until(pilot, lambda: status_cell(app, "demo") == "stopped", "listed, stopped")


async def test_progress_dialog_shows_steps_and_failures(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        dialog = DemoScreen(DemoProgress("downloading linux-image", 0.25))
        app.push_screen(dialog)
        await wait_until(pilot, lambda: bool(dialog.query(ProgressBar)), "dialog composed")
        bar = dialog.query_one(ProgressBar)
        assert bar.percentage == 0.25
        assert "downloading linux-image" in static_text(dialog.query_one("#demo-step"))
        app.post_message(DemoProgress("unpacking", None))  # as the build thread does
        await wait_until(pilot, lambda: bar.total is None, "indeterminate")
        dialog.finish(DemoFinished(None, error="cannot download: no network"))
        assert "✗ cannot download" in static_text(dialog.query_one("#demo-step"))
        assert not dialog.query_one("#start", Button).display
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is main_screen(app), "closed")


async def test_first_run_boots_the_demo_on_its_console(make_app: MakeApp, manager: Manager) -> None:
    """`maqet-tui --demo` (./scripts/run on an empty store): no dialog to answer, the demo VM is
    made, started and shown on its Console, the first thing a newcomer sees."""
    app = make_app(boot_demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "demo") == "running", "demo running")
        assert app.screen is main_screen(app)
        await wait_until(pilot, lambda: main_screen(app).detail_tab == "tab-console", "console")
        await wait_until(pilot, lambda: console_log(app).connected, "its console followed")
        assert [vm["name"] for vm in manager.list()] == ["demo"]
        assert not app.boot_demo  # once only: N later asks again


def test_entry_reads_demo_as_a_tui_option() -> None:
    from maqet_tui.entry import _tui_args

    assert _tui_args(["--demo"]) == (True, None, True)
    assert _tui_args(["--home", "/h", "--demo"]) == (True, "/h", True)
    assert _tui_args([]) == (True, None, False)
    assert _tui_args(["--demo", "ls"]) == (False, None, False)
