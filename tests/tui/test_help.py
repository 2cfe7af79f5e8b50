"""`?` at 80x24: the keys used most are on screen without scrolling, `[` and `]` among them."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console
from textual.widgets import Static

from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.help import HelpScreen

from .conftest import wait_until

MakeApp = Callable[..., MaqetApp]


async def test_the_most_used_keys_are_above_the_fold(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        body = app.screen.query_one("#help-body")
        await wait_until(pilot, lambda: body.size.height > 0, "laid out")
        table = body.query_one(Static).content
        console = Console(width=body.size.width, file=io.StringIO(), record=True)
        console.print(table)
        visible = "\n".join(console.export_text().splitlines()[: body.size.height])
        for shown in ("Start", "Stop", "Delete", "j / k", "Filter", "1-7", "[ / ]", "Quit"):
            assert shown in visible, (shown, visible)
        assert "Previous / next tab" in visible
