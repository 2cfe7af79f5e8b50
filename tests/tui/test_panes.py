"""The Log and Events panes at 80x24: wrapped to what is visible, never scrolled sideways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import RichLog

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.widgets.event_log import EventLog
from maqet_tui.tui.widgets.log_view import LogView

from .conftest import log_text, main_screen, status_cell, wait_until

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


def fits(log: RichLog) -> bool:
    return (
        log.virtual_size.width <= log.scrollable_content_region.width
        and not log.show_horizontal_scrollbar
    )


async def test_log_and_events_wrap_inside_the_pane(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    vm = tiny_vm("vm1")
    manager.start("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        await pilot.press("4")
        log = main_screen(app).query_one(LogView)
        await wait_until(pilot, lambda: "qemu" in log_text(log).lower(), "the runner log")
        log.append("\n".join(f"line {i}: " + "x" * 150 for i in range(40)))
        await wait_until(pilot, lambda: log.max_scroll_y > 0, "more than a screenful")
        assert fits(log), (log.virtual_size, log.scrollable_content_region)

        await pilot.press("3")
        events = main_screen(app).query_one(EventLog)
        await wait_until(pilot, lambda: "running" in log_text(events), "the events")
        events.append(manager.events(vm["id"]) * 20)
        await wait_until(pilot, lambda: events.max_scroll_y > 0, "more than a screenful")
        assert fits(events), (events.virtual_size, events.scrollable_content_region)
