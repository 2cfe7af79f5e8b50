"""Follows the selected VM's runner log: its tail on selection, then whatever is appended.

Polling a stat() four times a second is cheaper than it sounds and needs no inotify; only complete
lines are sent so a line is never split across two writes to the view.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from textual.message import Message

from maqet_tui.core.logfile import Follower
from maqet_tui.tui.messages import LogChunk
from maqet_tui.tui.services.threads import ServiceThread

INTERVAL = 0.25


class LogTailer(ServiceThread):
    name = "log-tail"

    def __init__(self, post: Callable[[Message], object], interval: float = INTERVAL) -> None:
        super().__init__(post)
        self.interval = interval
        self._lock = threading.Lock()
        self._want: tuple[int, str, Path] | None = None
        self._generation = 0

    def select(self, vm_id: str | None, path: Path | None) -> None:
        """Follow `path` from its tail (again, even if it was followed before)."""
        with self._lock:
            self._generation += 1
            self._want = (self._generation, vm_id, path) if vm_id and path else None
        self.poke()

    def run(self) -> None:
        current: tuple[int, str, Path] | None = None
        follower: Follower | None = None
        while not self.stopped:
            with self._lock:
                want = self._want
            if want != current:
                current = want
                follower = Follower(current[2]) if current is not None else None
            try:
                step = follower.step() if follower is not None else None
            except OSError:
                step = None  # unreadable for now: tried again next turn
            if step is not None and current is not None:
                self.post(LogChunk(current[1], step[0], reset=step[1]))
            self.wait(self.interval)
