"""The Log tab: the selected VM's runner log, following as the runner writes it.

The runner log holds what matters when something goes wrong: QEMU's own stderr, the argv it was
started with and why the runner stopped it. Lines wrap (at 80 columns the QEMU argv is several
lines long, and sideways scrolling is no way to read it over SSH).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

MAX_LINES = 5000


class LogView(RichLog):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_lines=MAX_LINES, wrap=True, min_width=1, markup=False, highlight=False, **kwargs
        )
        self._placeholder = False

    def reset(self, text: str, placeholder: str = "(the runner log is empty)") -> None:
        self.clear()
        self._placeholder = False
        if text:
            self.append(text)
        else:
            self.write(Text(placeholder, style="dim"))
            self._placeholder = True

    def append(self, text: str) -> None:
        if text and self._placeholder:
            self.clear()
            self._placeholder = False
        for line in text.splitlines():
            self.write(Text(line, style=_style(line)))


def _style(line: str) -> str:
    if " ERROR " in line or " CRITICAL " in line:
        return "red"
    if " WARNING " in line:
        return "yellow"
    return ""
