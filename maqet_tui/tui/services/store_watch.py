"""Notices any change to the store, made by any process, for the price of one PRAGMA.

`PRAGMA data_version` changes when another connection commits, so runners, the CLI and this app's
own operation threads are all seen; rows are re-read only then. The same probe also feeds the
selected VM's event history incrementally (by event id), which keeps the Events pane complete and
ordered across runner restarts, and re-reads the hosts table (a few rows) on each change, posting
it when it differs: a `host add` or `host rm` shows without a restart, at no cost of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.message import Message

from maqet_tui.core.watch import StoreProbe, release_thread
from maqet_tui.tui.messages import EventsLoaded, HostsLoaded, RowsLoaded
from maqet_tui.tui.services.threads import ServiceThread

POLL_INTERVAL = 0.15
EVENT_HISTORY = 200


class StoreWatcher(ServiceThread):
    name = "store-watch"

    def __init__(
        self, db_path: Path, post: Callable[[Message], object], interval: float = POLL_INTERVAL
    ) -> None:
        super().__init__(post)
        self.probe = StoreProbe(db_path)
        self.interval = interval
        self._lock = threading.Lock()
        self._selected: tuple[int, str | None] = (0, None)
        self._force = True

    def select(self, vm_id: str | None) -> None:
        """Show `vm_id`'s events from the start (again, even if it was selected before)."""
        with self._lock:
            self._selected = (self._selected[0] + 1, vm_id)
        self.poke()

    def reload(self) -> None:
        """Re-read everything on the next turn even if nothing seems to have changed."""
        self._force = True
        self.poke()

    def run(self) -> None:
        version: int | None = None
        shown: tuple[int, str | None] = (0, None)
        last_event = 0
        hosts: list[dict[str, Any]] | None = None
        first = True
        while first or not self.stopped:
            if not first:
                self.wait(self.interval)
            first = False
            if self.stopped:
                return
            try:
                now = self.probe.version()
                with self._lock:
                    wanted = self._selected
                selected = wanted[1]
                changed = now != version or self._force
                self._force = False
                version = now
                if changed:
                    self.post(RowsLoaded(self.probe.rows()))
                    now_hosts = self._hosts()
                    if now_hosts != hosts:
                        hosts = now_hosts
                        self.post(HostsLoaded(now_hosts))
                if wanted != shown:
                    shown, last_event = wanted, 0
                    if selected is not None:
                        events, last_event = self._events(selected, 0)
                        self.post(EventsLoaded(selected, events, reset=True))
                elif changed and selected is not None:
                    events, last_event = self._events(selected, last_event)
                    if events:
                        self.post(EventsLoaded(selected, events, reset=False))
            except Exception:
                # A busy or briefly unreadable database: try again next turn rather than die.
                version = None
                release_thread()

    def _hosts(self) -> list[dict[str, Any]]:
        """No hosts table readable (a store of another schema): a local-only view, as before
        hosts existed; a later change reads it again."""
        try:
            return self.probe.hosts()
        except Exception:
            return []

    def _events(self, vm_id: str, after: int) -> tuple[list[dict[str, Any]], int]:
        """Events of `vm_id` with id > `after` (the newest EVENT_HISTORY), and the new mark."""
        events = self.probe.events_since(vm_id, after, EVENT_HISTORY)
        return events, (events[-1]["id"] if events else after)
