"""Reading a growing log file by offset, in whole lines: its tail, then what was appended.

Shared by the TUI's Log pane (a local VM's runner log) and the fleet agent (a VM on the host it
serves, followed for a TUI elsewhere), so both cut and bound the text the same way: a line is
never split across two reads unless it alone is longer than a whole read.
"""

from __future__ import annotations

from pathlib import Path

TAIL_BYTES = 64 * 1024
MAX_CHUNK = 256 * 1024


def tail(path: Path, limit: int = TAIL_BYTES) -> tuple[str, int]:
    """The last `limit` bytes of the file from a line start, and the offset read up to."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "", 0
    start = max(0, size - limit)
    text, end = read_lines(path, start, limit)
    if start > 0:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return text, end


def cut_to_line(text: str, limit: int = TAIL_BYTES) -> str:
    """The end of `text` within `limit` characters, from a line start when it had to be cut (a
    log read whole from elsewhere, shown as its tail)."""
    if len(text) <= limit:
        return text
    text = text[-limit:]
    return text.split("\n", 1)[1] if "\n" in text else text


def read_lines(path: Path, pos: int, limit: int = MAX_CHUNK) -> tuple[str, int]:
    """Complete lines from `pos` (at most `limit` bytes) and the offset after the last one."""
    with open(path, "rb") as f:
        f.seek(pos)
        data = f.read(limit)
    cut = data.rfind(b"\n")
    if cut < 0:
        if len(data) < limit:
            return "", pos  # a line still being written
        cut = len(data) - 1  # one enormous line: pass it on in pieces
    return data[: cut + 1].decode(errors="replace"), pos + cut + 1


def size_of(path: Path) -> int:
    """The file's size; 0 when it is not there (yet, or any more)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class Follower:
    """One file followed: the first step gives its tail, later ones what was appended since (a
    file that shrank, truncated or replaced, starts over from its tail). Each step reads at most
    `chunk` bytes, so a burst arrives as several bounded pieces rather than one huge one."""

    def __init__(self, path: Path, tail_bytes: int = TAIL_BYTES, chunk: int = MAX_CHUNK) -> None:
        self.path = path
        self.tail_bytes = tail_bytes
        self.chunk = chunk
        self.pos: int | None = None

    def step(self) -> tuple[str, bool] | None:
        """(text, reset) when there is something to show (reset: the text replaces what was
        shown), None when nothing changed. OSError when the file cannot be read."""
        size = size_of(self.path)
        if self.pos is None or size < self.pos:
            text, self.pos = tail(self.path, self.tail_bytes)
            return text, True
        if size > self.pos:
            text, self.pos = read_lines(self.path, self.pos, self.chunk)
            if text:
                return text, False
        return None
