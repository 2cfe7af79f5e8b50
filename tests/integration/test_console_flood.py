"""A guest printing as fast as it can: the runner sends its output in a few large events rather
than one per serial read, and a viewer that joins mid-flood gets every line once, in order."""

from __future__ import annotations

import time
from typing import Any

import pytest

from maqet_tui.core import ipc_client
from maqet_tui.core.guest_image import READY_LINE
from maqet_tui.core.manager import Manager
from runner.console import PUBLISH_WINDOW
from tests.helpers import ConsoleReader
from tests.integration.test_guest import BOOT_DEADLINE

pytestmark = pytest.mark.guest
LINES = 20000


def _numbers(text: str) -> list[int]:
    """The whole lines of `text` that are numbers (the flood), in order."""
    return [int(line) for line in text.replace("\r", "").split("\n")[1:-1] if line.isdigit()]


def test_a_flood_goes_out_in_few_events_and_a_late_viewer_misses_nothing(
    manager: Manager, demo: dict[str, Any]
) -> None:
    with (
        ipc_client.IPCClient(demo["socket_path"], timeout=10) as early,
        ipc_client.IPCClient(demo["socket_path"], timeout=10) as late,
    ):
        early.call("subscribe", {"topics": ["console"], "replay": True})
        first = ConsoleReader(early)
        first.until(READY_LINE, BOOT_DEADLINE)
        first.until("# ", 30)
        # Kernel messages (a late clocksource line) would split a line of the flood.
        manager.console_write("demo", f"dmesg -n 1; seq 1 {LINES}; echo FLOOD-$((40+2))\n")
        first.until("\n100\r\n", 60)  # well into the flood, far from its end
        began, events = time.monotonic(), 0
        late.call("subscribe", {"topics": ["console"], "replay": True})
        replay = late.read_message(timeout=30)["data"]
        second = ConsoleReader(late)
        second.text = replay["text"]
        while "FLOOD-42" not in first.text:
            msg = early.read_message(timeout=120)
            if msg.get("event") == "console":
                first.text += msg["data"]["text"]
                events += 1
        took = time.monotonic() - began
        second.until("FLOOD-42", 30)
    # One event per window at most, plus the one a quiet window lets through at once; one per
    # serial read (a few bytes each) would be thousands.
    assert events <= took / PUBLISH_WINDOW + 2, (events, took)
    # The viewer joined mid-flood: its replay holds part of it, and the rest came live.
    assert replay.get("replay") is True and _numbers(replay["text"])
    assert "FLOOD-42" not in replay["text"]
    seen = _numbers(second.text)
    assert seen[-1] == LINES and seen == list(range(seen[0], LINES + 1)), "a gap or a repeat"
