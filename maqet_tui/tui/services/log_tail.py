"""Follows the selected VM's runner log: its tail on selection, then whatever is appended.

Polling a stat() four times a second is cheaper than it sounds and needs no inotify; only complete
lines are sent so a line is never split across two writes to the view.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from textual.message import Message

from maqet_tui.tui.messages import LogChunk
from maqet_tui.tui.services.threads import ServiceThread

INTERVAL = 0.25
TAIL_BYTES = 64 * 1024
MAX_CHUNK = 256 * 1024


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
        want: tuple[int, str, Path] | None = None
        current: tuple[int, str, Path] | None = None
        pos = 0
        while not self.stopped:
            with self._lock:
                want = self._want
            try:
                if want != current:
                    current = want
                    if current is not None:
                        text, pos = _tail(current[2])
                        self.post(LogChunk(current[1], text, reset=True))
                elif current is not None:
                    path = current[2]
                    size = path.stat().st_size if path.exists() else 0
                    if size < pos:  # truncated or rotated: start over
                        text, pos = _tail(path)
                        self.post(LogChunk(current[1], text, reset=True))
                    elif size > pos:
                        text, pos = _read(path, pos)
                        if text:
                            self.post(LogChunk(current[1], text, reset=False))
            except OSError:
                pass
            self.wait(self.interval)


def _tail(path: Path) -> tuple[str, int]:
    """The last TAIL_BYTES of the file from a line start, and the offset read up to."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "", 0
    start = max(0, size - TAIL_BYTES)
    text, end = _read(path, start)
    if start > 0:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return text, end


def _read(path: Path, pos: int) -> tuple[str, int]:
    """Complete lines from `pos` (at most MAX_CHUNK bytes) and the offset after the last one."""
    with open(path, "rb") as f:
        f.seek(pos)
        data = f.read(MAX_CHUNK)
    cut = data.rfind(b"\n")
    if cut < 0:
        if len(data) < MAX_CHUNK:
            return "", pos  # a line still being written
        cut = len(data) - 1  # one enormous line: pass it on in pieces
    return data[: cut + 1].decode(errors="replace"), pos + cut + 1
