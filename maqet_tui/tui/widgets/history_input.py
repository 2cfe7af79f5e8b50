"""A one-line input with shell-like history on up/down, shared by the QMP and console prompts.

Given a `path`, the history outlives the TUI: read when the input is mounted, written (the last
HISTORY lines, mode 0600) after each new line. A file that cannot be read or written costs only
the history, never the prompt.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.widgets import Input

HISTORY = 200


def load_history(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line][-HISTORY:]


def save_history(path: Path, lines: list[str]) -> None:
    """Replace the file with `lines` (one per line), readable by its owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in lines[-HISTORY:]))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


class HistoryInput(Input):
    BINDINGS = [
        Binding("up", "history(-1)", "Previous line", show=False),
        Binding("down", "history(1)", "Next line", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self.history_path: Path | None = None
        self._pos = 0

    def keep_history_in(self, path: Path) -> None:
        """Continue the history kept in `path` (lines typed before this keep their order)."""
        if path == self.history_path:
            return
        self.history_path = path
        self.history = [*load_history(path), *self.history][-HISTORY:]
        self._pos = len(self.history)

    def remember(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[:-HISTORY]
            if self.history_path is not None:
                save_history(self.history_path, self.history)
        self._pos = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._pos = max(0, min(len(self.history), self._pos + step))
        self.value = self.history[self._pos] if self._pos < len(self.history) else ""
        self.cursor_position = len(self.value)
