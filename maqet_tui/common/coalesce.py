"""Text that arrives in many small pieces, passed on in few: at most one send per window.

A guest printing a flood reaches the serial port a few bytes at a time, and each piece passed on
alone costs every viewer a message, a decode and a screen update. Both ends join pieces: the
runner before it publishes console output, the TUI before it feeds its terminal. The first piece
after a quiet window goes at once, so the echo of a typed key is never held back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Coalescer:
    """Joins the text `add`ed within `window` seconds of the last send into one `send(text)`.
    Runs on the event loop it is used from."""

    def __init__(self, send: Callable[[str], object], window: float) -> None:
        self._send = send
        self._window = window
        self._parts: list[str] = []
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, text: str) -> None:
        self._parts.append(text)
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last + self._window - loop.time()
        if wait <= 0:
            self.flush()
        else:
            self._timer = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Send what is waiting now (before a replay is cut, or at the end of the stream)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._parts:
            text = "".join(self._parts)
            self._parts.clear()
            self._last = asyncio.get_running_loop().time()
            self._send(text)
