"""The Console tab against the real demo guest: its boot, a typed line, raw mode, switching VMs.

One guest boots per test (~5 s under TCG); everything else is waited for with deadlines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Static

from maqet_tui.core.demo import ensure_demo
from maqet_tui.core.guest_image import READY_LINE
from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.widgets.console_pane import ConsoleInput

from .conftest import (
    console_log,
    console_pane,
    focused,
    footer_actions,
    main_screen,
    select,
    static_text,
    status_cell,
    wait_until,
)

pytestmark = pytest.mark.guest
BOOT = (
    60.0  # for what the guest does: ~5 s to boot on an idle 2-core host; generous for a loaded one
)
MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


def prompt_after(app: MaqetApp, marker: str) -> bool:
    """The shell printed its prompt again after `marker` (so it is ready for the next line)."""
    text = console_log(app).plain_text
    return marker in text and "/ #" in text.rsplit(marker, 1)[1]


async def test_console_shows_the_boot_and_takes_a_line_and_raw_keys(
    make_app: MakeApp, manager: Manager, tiny_vm: TinyVM
) -> None:
    ensure_demo(manager)
    tiny_vm("other")
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "demo") == "stopped", "demo listed")
        await select(pilot, app, "demo")
        await pilot.press("5")  # the Console tab: a stopped VM says so, and how to start it
        pane = console_pane(app)
        status = static_text(pane.query_one("#console-status"))
        assert "demo is stopped" in status and "start it (s)" in status
        assert "console_raw" not in footer_actions(app)
        assert not isinstance(focused(app), ConsoleInput)  # nothing to type into yet: `s` starts

        await pilot.press("s")
        log = console_log(app)
        await wait_until(pilot, lambda: READY_LINE in log.plain_text, "the boot", BOOT)
        await wait_until(pilot, lambda: prompt_after(app, READY_LINE), "a shell prompt", BOOT)
        assert "\x1b" not in log.plain_text and "[6n" not in log.plain_text

        # A line: enter focuses the input, enter sends it with a newline.
        await pilot.press("enter")
        assert isinstance(app.focused, ConsoleInput)
        await pilot.press(*"echo $((6*7))", "enter")
        await wait_until(pilot, lambda: "\n42\n" in log.plain_text, "the answer, 42", BOOT)

        # Raw mode: every key goes to the guest, `q` and ctrl+c included; ctrl+] leaves.
        await pilot.press("escape")
        await wait_until(pilot, lambda: "console_raw" in footer_actions(app), "i offered")
        await pilot.press("i")
        assert log.raw and focused(app) is log
        banner = pane.query_one("#console-banner", Static)
        assert banner.has_class("-shown")
        assert static_text(banner).rstrip().endswith("scrolls")  # whole at 80 columns
        assert len(static_text(banner).rstrip()) <= banner.region.width
        assert footer_actions(app) == {"leave_raw"}
        await pilot.press(*"sleep 30", "enter")
        await wait_until(pilot, lambda: "sleep 30" in log.plain_text, "sleep echoed", BOOT)
        await pilot.press("ctrl+c")  # interrupts the sleep: the prompt comes back
        await wait_until(pilot, lambda: prompt_after(app, "sleep 30"), "sleep interrupted", BOOT)
        await pilot.press(*"echo q$((7*6))", "enter")
        await wait_until(pilot, lambda: "\nq42\n" in log.plain_text, "q42 typed raw", BOOT)
        assert app.is_running  # `q` went to the guest, not to the app
        await pilot.press("ctrl+right_square_bracket")
        assert not log.raw
        assert not pane.query_one("#console-banner").has_class("-shown")
        # The log keeps focus and offers `i` again (its own binding shadows the screen's).
        await wait_until(pilot, lambda: "raw" in footer_actions(app), "i offered again")
        # The demo runs: the footer offers stop and pause, never start or resume, and the
        # screen refuses start outright (the key would do nothing useful).
        offered = footer_actions(app)
        assert {"stop", "pause"} <= offered, offered
        assert not {"start", "resume"} & offered, offered
        assert not main_screen(app).check_action("start", ())

        # Another VM: its own (empty, stopped) console; back again: the demo's tail is replayed.
        await pilot.press("escape")  # back to the VM list
        await select(pilot, app, "other")
        await wait_until(pilot, lambda: READY_LINE not in log.plain_text, "switched away")
        assert "other is stopped" in static_text(pane.query_one("#console-status"))
        await select(pilot, app, "demo")
        await wait_until(pilot, lambda: "q42" in log.plain_text, "the demo's tail again")
        assert pane.stream.key is not None and pane.stream.key[0] == main_screen(app).shown_id


def screen_rows(app: MaqetApp) -> list[str]:
    """The guest's screen (not the scrollback above it), row by row."""
    screen = console_log(app).term.screen
    return [row.rstrip() for row in screen.display]


def full_screen_vi(app: MaqetApp) -> bool:
    rows = screen_rows(app)
    return "/tmp/x" in rows[-1] and sum(row == "~" for row in rows) >= len(rows) - 3


async def test_a_full_screen_editor_in_raw_mode(
    make_app: MakeApp, manager: Manager, tiny_vm: TinyVM
) -> None:
    ensure_demo(manager)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "demo") == "stopped", "demo listed")
        await select(pilot, app, "demo")
        await pilot.press("5")
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "demo") == "running", "demo started")
        await wait_until(pilot, lambda: prompt_after(app, READY_LINE), "a shell prompt", BOOT)
        log = console_log(app)
        log.focus()
        await pilot.press("i")
        assert log.raw
        await pilot.press(*"vi /tmp/x", "enter")
        # vi asks the terminal where its cursor went (ESC[6n after ESC[999;999H): the answer
        # tells it the pane's size, so it fills exactly the screen the pane shows.
        await wait_until(pilot, lambda: full_screen_vi(app), "vi on the whole screen", BOOT)
        screen = log.term.screen
        assert len(screen_rows(app)) == log.scrollable_content_region.height == screen.lines
        await pilot.press(*":q!", "enter")
        await wait_until(
            pilot, lambda: screen_rows(app)[screen.cursor.y] == "/ #", "the prompt", BOOT
        )
        assert not full_screen_vi(app)
