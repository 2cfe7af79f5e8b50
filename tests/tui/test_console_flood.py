"""The console under a flood of guest output: keys keep working, and the end of it shows.

One demo guest per test; waits have deadlines, and the timings asserted are generous bounds on
what a user would call a stall, not benchmarks (benchmarks/tui.py measures those).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from maqet_tui.core.demo import ensure_demo
from maqet_tui.core.guest_image import READY_LINE
from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp

from .conftest import console_log, main_screen, select, status_cell, wait_until

pytestmark = pytest.mark.guest
BOOT = 60.0
STALL = 3.0  # a key that takes this long to act, during a flood, is a stall
# 2 MB: long enough under TCG (seconds) that the key surely comes while it runs.
FLOOD = 'yes | head -1000000; echo "flood-""end"'  # the marker is not in the echoed command


def flood_ended(app: MaqetApp) -> bool:
    text = console_log(app).screen_text  # the scrollback is long: too slow to poll
    return "flood-end" in text and "/ #" in text.rsplit("flood-end", 1)[1]


async def test_keys_act_during_a_flood_and_its_end_shows(
    make_app: Callable[..., MaqetApp], manager: Manager
) -> None:
    ensure_demo(manager)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "demo") == "stopped", "demo listed")
        await select(pilot, app, "demo")
        await pilot.press("5", "s")
        log = console_log(app)
        await wait_until(pilot, lambda: READY_LINE in log.plain_text, "the boot", BOOT)
        await wait_until(pilot, lambda: "/ #" in log.plain_text.rsplit(READY_LINE)[1], "prompt")
        await pilot.press("enter", *FLOOD, "enter", "escape")
        await wait_until(pilot, lambda: log.screen_text.count("\ny") > 5, "the flood started")
        assert not flood_ended(app)
        screen = main_screen(app)
        pressed = time.monotonic()
        # Pilot's press waits for the app to go idle (up to 1 s, twice), which a flood never
        # lets it: the key goes in a task, and the wait is for its effect.
        press = asyncio.create_task(pilot.press("1"))  # the Overview tab
        await wait_until(pilot, lambda: screen.detail_tab == "tab-overview", "overview", STALL)
        took = time.monotonic() - pressed
        await press
        assert not flood_ended(app), "the flood was over before the key acted: test nothing"
        await wait_until(pilot, lambda: flood_ended(app), "the prompt after the flood", 120)
        assert took < STALL
