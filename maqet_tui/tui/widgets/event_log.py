"""The Events tab: the selected VM's status changes and QMP events, oldest first, as they happen.

Fed from the store's event history (see services.store_watch): one ordered source means no
duplicates and no gaps around runner restarts, and it includes events recorded while no runner
existed (a `starting`, a crash noted by reconciliation).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from maqet_tui.tui.vmview import STATUS_STYLE, event_text, fmt_time

MAX_LINES = 2000


def event_line(ev: dict[str, Any]) -> Text:
    t = Text(fmt_time(float(ev["ts"])), style="dim")
    t.append("  ")
    if ev.get("kind") == "status":
        t.append(event_text(ev), style=STATUS_STYLE.get(str(ev.get("name")), ""))
    else:
        t.append(event_text(ev), style="bright_magenta")
    return t


class EventLog(RichLog):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, min_width=1, markup=False, **kwargs)
        self._placeholder = False

    def reset(self, events: list[dict[str, Any]], empty: str = "no events recorded yet") -> None:
        self.clear()
        self._placeholder = not events
        if not events:
            self.write(Text(empty, style="dim"))
        self.append(events)

    def append(self, events: list[dict[str, Any]]) -> None:
        if events and self._placeholder:
            self.clear()
            self._placeholder = False
        for ev in events:
            self.write(event_line(ev))
