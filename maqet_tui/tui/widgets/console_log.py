"""The serial console's screen: bounded, soft-wrapped scrollback that follows new output, and a
raw (pass-through) mode in which every key goes to the guest.

Lines are folded at the exact column, as a terminal does, rather than word-wrapped, so tables and
progress lines keep their shape. The view follows the output only while it is scrolled to the
bottom (k9s' convention): scrolling up to read something is never undone by the next line.

Raw mode is modal like virsh console: the widget swallows every key (bindings included) until
ctrl+], which is the one key a guest shell rarely needs and that tmux and SSH pass through.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from maqet_tui.tui.term import MAX_LINES, LineTerm

LEAVE_KEY = "ctrl+right_square_bracket"
RAW_TOOLTIP = "Raw mode: keys to the guest"
# What a VT100-style terminal sends for keys that have no character of their own.
KEY_DATA: dict[str, str] = {
    "enter": "\r",
    "backspace": "\x7f",
    "tab": "\t",
    "shift+tab": "\x1b[Z",
    "escape": "\x1b",
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "insert": "\x1b[2~",
    "delete": "\x1b[3~",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "ctrl+c": "\x03",
    "ctrl+d": "\x04",
    **{f"f{n}": f"\x1bO{c}" for n, c in zip(range(1, 5), "PQRS", strict=True)},
    **{
        f"f{n}": f"\x1b[{c}~"
        for n, c in zip(range(5, 13), (15, 17, 18, 19, 20, 21, 23, 24), strict=True)
    },
}


def key_data(key: str, character: str | None) -> str | None:
    """What the guest should receive for a key press, or None for keys it has no use for."""
    if key in KEY_DATA:
        return KEY_DATA[key]
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return chr(ord(key[5]) & 0x1F)
    if character and (character.isprintable() or ord(character) < 0x20):
        return character
    return None


class ConsoleLog(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("i", "raw", "Type into guest", tooltip=RAW_TOOLTIP),
        Binding(LEAVE_KEY, "leave_raw", "Leave raw mode", key_display="ctrl+]"),
    ]

    raw: reactive[bool] = reactive(False, bindings=True)
    connected: reactive[bool] = reactive(False, bindings=True)

    @dataclass
    class Typed(Message):
        """Keys typed in raw mode, as the bytes a terminal would send."""

        data: str

    @dataclass
    class RawChanged(Message):
        raw: bool

    def __init__(self, max_lines: int = MAX_LINES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.term = LineTerm(max_lines)
        self._rows: deque[Strip] = deque()  # wrapped rows of the scrollback lines
        self._counts: deque[int] = deque()  # rows per scrollback line, to drop the oldest
        self._tail: list[Strip] = []  # rows of the live last line
        self._width = 0
        # Following the output: cleared only by scrolling up (the user's doing), set again by
        # reaching the bottom. A flag, not "are we at the bottom now": right after new rows the
        # scrollbar may not be laid out yet, and until it is the view cannot scroll.
        self._follow = True

    # -- content -----------------------------------------------------------------------------
    @property
    def plain_text(self) -> str:
        """Everything shown, without styles (for tests and copying)."""
        return "\n".join([*(line.plain for line in self.term.lines), self.term.current.plain])

    @property
    def empty(self) -> bool:
        return not self.term.lines and not self.term.cells

    def feed(self, text: str) -> None:
        added, dropped = self.term.feed(text)
        self._update(added, dropped)

    def note(self, text: str, style: str = "dim italic") -> None:
        """A line of ours, not the guest's (connection changes), after whatever is shown."""
        added = 0
        if self.term.cells:
            added += self.term.feed("\r\n")[0]
        before = len(self.term.lines)
        self.term.lines.append(Text(text, style=style))
        added += 1
        maxlen = self.term.lines.maxlen or 0
        self._update(added, max(0, before + 1 - maxlen) if maxlen else 0)

    def reset(self) -> None:
        self.term.reset()
        self._rows.clear()
        self._counts.clear()
        self._tail = []
        self._follow = True
        self._sync()

    def _update(self, added: int, dropped: int) -> None:
        for _ in range(min(dropped, len(self._counts))):
            for _row in range(self._counts.popleft()):
                self._rows.popleft()
        lines = self.term.lines
        for line in list(lines)[len(lines) - min(added, len(lines)) :]:
            wrapped = self._wrap(line)
            self._rows.extend(wrapped)
            self._counts.append(len(wrapped))
        self._tail = self._wrap(self._live_line())
        self._sync()

    def _live_line(self) -> Text:
        line = self.term.current
        if self.raw:  # show where the guest's cursor is: that is where typing lands
            col = self.term.col
            if col >= len(line):
                line.append(" " * (col - len(line) + 1))
            line.stylize(Style(reverse=True), col, col + 1)
        return line

    def _wrap(self, line: Text) -> list[Strip]:
        width = self._width or len(line) + 1  # not laid out yet: on_resize wraps again
        console = self.app.console
        parts = line.divide(range(width, len(line), width)) if len(line) > width else [line]
        return [Strip(list(part.render(console, end="")), part.cell_len) for part in parts]

    def _rewrap(self) -> None:
        """The width changed: every row is rebuilt from the lines. (Rows hold only the guest's
        own styles; the widget's base style is applied when drawing, so focus and theme
        changes need no rewrap.)"""
        self._rows.clear()
        self._counts.clear()
        for line in self.term.lines:
            wrapped = self._wrap(line)
            self._rows.extend(wrapped)
            self._counts.append(len(wrapped))
        self._tail = self._wrap(self._live_line())
        self._sync()

    def _sync(self) -> None:
        self.virtual_size = Size(self._width, len(self._rows) + len(self._tail))
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            if self.scroll_offset.y < self.max_scroll_y:  # not scrollable yet: after layout
                self.scroll_end(animate=False, x_axis=False)
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(new_value) >= self.max_scroll_y:
            self._follow = True
        elif new_value < old_value:
            self._follow = False

    # -- rendering ---------------------------------------------------------------------------
    def on_resize(self, _event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._rewrap()

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        base = self.rich_style
        width = self.scrollable_content_region.width
        if row < len(self._rows):
            strip = self._rows[row]
        elif row - len(self._rows) < len(self._tail):
            strip = self._tail[row - len(self._rows)]
        else:
            return Strip.blank(width, base)
        return strip.apply_style(base).crop_extend(0, width, base)

    # -- raw mode ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "raw":
            return self.connected and not self.raw
        if action == "leave_raw":
            return self.raw
        return True

    def action_raw(self) -> None:
        if self.connected:
            self.raw = True
            self.focus()

    def action_leave_raw(self) -> None:
        self.raw = False

    def watch_raw(self, raw: bool) -> None:
        self.set_class(raw, "-raw")
        self._tail = self._wrap(self._live_line())
        self._follow = True  # typing into the guest: show where the typing lands
        self._sync()
        self.post_message(self.RawChanged(raw))

    def watch_connected(self, connected: bool) -> None:
        if not connected:
            self.raw = False

    def on_blur(self) -> None:
        self.raw = False  # keys no longer come here, so raw mode would be a lie

    def on_key(self, event: events.Key) -> None:
        if not self.raw:
            return
        event.stop()
        event.prevent_default()
        if event.key == LEAVE_KEY:
            self.raw = False
            return
        data = key_data(event.key, event.character)
        if data:
            self.post_message(self.Typed(data))

    def on_paste(self, event: events.Paste) -> None:
        if self.raw and event.text:
            event.stop()
            self.post_message(self.Typed(event.text.replace("\r\n", "\r").replace("\n", "\r")))
