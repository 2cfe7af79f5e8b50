"""The footer fits the terminal: at 80 columns a running VM's keys and the Console's `i` are more
than a line, and what does not fit must leave whole, never `? Help`."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.widgets.fitting_footer import fit, key_width
from tests.tui.conftest import RunningApp, wait_until


def shown(app: MaqetApp) -> list[FooterKey]:
    return [k for k in app.screen.query(FooterKey) if not k.has_class("-command-palette")]


async def test_the_footer_keeps_help_and_the_console_key_at_80_columns(
    running_app: RunningApp,
) -> None:
    async with running_app() as (app, pilot):
        await pilot.press("5", "escape")  # the Console tab, the keys back to the list
        await wait_until(pilot, lambda: "console_raw" in {k.action for k in shown(app)}, "i")
        actions = [k.action for k in shown(app)]
        assert {"help", "quit", "stop", "console_raw"} <= set(actions), actions
        palette = app.screen.query_one(".-command-palette", FooterKey)
        keys_end = max(k.region.right for k in shown(app))
        assert keys_end <= palette.region.x <= app.size.width - len("^p palette"), actions
        assert all(k.region.width >= key_width(k) - 1 for k in shown(app))  # none cut short
        assert "add" not in actions  # the first to go

        await pilot.resize_terminal(160, 24)
        await wait_until(pilot, lambda: "add" in {k.action for k in shown(app)}, "every key")


def test_keys_leave_least_needed_first_and_help_never() -> None:
    keys = [
        FooterKey(k, k, d, a)
        for k, d, a in [
            ("s", "Start", "start"),
            ("a", "Add", "add"),
            ("?", "Help", "help"),
            ("/", "Filter", "filter"),
            ("x", "Xtra", "xtra"),
        ]
    ]
    widths = [key_width(k) for k in keys]
    assert fit(keys, sum(widths)) == set()
    assert fit(keys, sum(widths) - 1) == {1}  # `add` first
    assert fit(keys, widths[2]) == {0, 1, 3, 4}  # at worst, help alone
    assert fit(keys, 0) == {0, 1, 3, 4}
