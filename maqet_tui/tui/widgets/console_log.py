"""The serial console's screen: a terminal of the widget's size (`GuestTerm`) over a bounded
scrollback, a view that follows new output, and a raw (pass-through) mode in which every key goes
to the guest.

The guest's screen is the last rows of the view; what scrolled off its top is above it, to page
back through with shift+pageup/pagedown (in raw mode too; plain pageup/pagedown go to the guest
there). The view follows the output only while it is scrolled to the bottom (k9s' convention):
scrolling up to read something is never undone by the next line.

Raw mode is modal like virsh console: the widget swallows every key (bindings included) until
ctrl+], which is the one key a guest shell rarely needs and that tmux and SSH pass through.
"""

from __future__ import annotations

import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from typing import Any

from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from maqet_tui.tui.term import MAX_LINES, GuestTerm, Row, row_segments

LEAVE_KEY = "ctrl+right_square_bracket"
RAW_TOOLTIP = "Raw mode: keys to the guest"
SCROLL_KEYS = {"shift+pageup": "page_up", "shift+pagedown": "page_down"}
FRAME = 1 / 30  # output is taken in at most this often: one repaint per batch
BUDGET = 0.012  # seconds of emulation per batch; keys and repaints get the rest of the frame
SLICE = 4096  # characters fed at a time, to check the budget
# Pending characters worth looking at for what would scroll off anyway: about a third of a second
# of emulation within the per-frame budget (pyte takes ~500K chars/s of plain lines here), so the
# end of a flood is on the screen well within a second of arriving.
TRIM_AT = 64 * 1024
NOTE = "\x1b[3;90m{}\x1b[0m\r\n"  # our own lines (connection changes): grey italics
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


def _named_character(name: str) -> str | None:
    """The character a key name stands for ("full_stop": "."), as Textual names them."""
    try:
        return unicodedata.lookup(name.replace("_", " ").upper())
    except KeyError:
        return None


def key_data(key: str, character: str | None) -> str | None:
    """What the guest should receive for a key press, or None for keys it has no use for."""
    if key.startswith("alt+"):  # meta sends escape, as xterm and readline have it
        key = key[4:]
        if character is None and key.startswith("shift+") and len(key) == 7:
            character = key[6].upper()
        elif character is None:
            character = key if len(key) == 1 else _named_character(key)
        data = key_data(key, character)
        return "\x1b" + data if data else None
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
        Binding(
            "shift+pageup",
            "page_up",
            "Scroll back/forward",
            key_display="shift+pgup/dn",
            show=False,
        ),
        Binding("shift+pagedown", "page_down", show=False),
    ]

    raw: reactive[bool] = reactive(False, bindings=True)
    connected: reactive[bool] = reactive(False, bindings=True)

    @dataclass
    class Typed(Message):
        """Keys typed in raw mode, as the bytes a terminal would send."""

        data: str

    @dataclass
    class Answered(Message):
        """What the terminal answers to the guest's query (its cursor position)."""

        data: str

    @dataclass
    class RawChanged(Message):
        raw: bool

    def __init__(self, max_lines: int = MAX_LINES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.term = GuestTerm(max_lines)
        self._fed = False
        self._pending: deque[tuple[str, bool]] = deque()  # (output, answer its queries)
        self._pending_size = 0
        self._batch: Timer | None = None
        self._last = 0.0  # when the last batch was taken in
        self._history: LRUCache[int, tuple[Row, int, Strip]] = LRUCache(512)
        # Following the output: cleared only by scrolling up (the user's doing), set again by
        # reaching the bottom. A flag, not "are we at the bottom now": right after new rows the
        # scrollbar may not be laid out yet, and until it is the view cannot scroll.
        self._follow = True

    # -- content -----------------------------------------------------------------------------
    @property
    def plain_text(self) -> str:
        """Everything shown, scrollback included, without styles (for tests and copying)."""
        return "\n".join(self.term.lines)

    @property
    def screen_text(self) -> str:
        """The guest's screen only, without the scrollback (cheap enough to poll)."""
        return "\n".join(row.rstrip() for row in self.term.screen.display)

    @property
    def empty(self) -> bool:
        return not self._fed

    def feed(self, text: str, *, answer: bool = True) -> None:
        """Guest output. Its queries are answered (`Answered`) unless `answer` is False: a replay
        of old output asked long ago, and an answer now would be typing into the guest.

        Output is taken in batches, once a frame and for a bounded time each, so a flood never
        holds up keys; what it would scroll past the scrollback is dropped unseen.
        """
        self._fed = True
        if not text:
            return
        self._pending.append((text, answer))
        self._pending_size += len(text)
        if not self.is_mounted:
            self.flush()
        elif self._batch is None:
            wait = self._last + FRAME - time.monotonic()
            if wait <= 0:  # the first output after a quiet frame: at once (an echo, say)
                self._take_batch()
            else:
                self._batch = self.set_timer(wait, self._take_batch)

    def flush(self) -> None:
        """Take in all pending output now (as much as the scrollback can show of it)."""
        self._take(None)

    def _take_batch(self) -> None:
        self._batch = None
        self._last = time.monotonic()
        self._take(self._last + BUDGET)
        if self._pending:
            self._batch = self.set_timer(FRAME, self._take_batch)

    def _take(self, deadline: float | None) -> None:
        if not self._pending:
            return
        self._trim()
        pending = self._pending
        while pending and (deadline is None or time.monotonic() < deadline):
            text, answer = pending.popleft()
            if len(text) > SLICE and deadline is not None:
                pending.appendleft((text[SLICE:], answer))
                text = text[:SLICE]
            self._pending_size -= len(text)
            answers = self.term.feed(text)
            if answer:
                for data in answers:
                    self.post_message(self.Answered(data))
        self._sync()

    def _trim(self) -> None:
        """Drop pending output that would only scroll past the scrollback. Only plain text
        (no escape sequences) goes: its effect is the rows it scrolls, nothing else."""
        if self._pending_size < TRIM_AT:
            return
        text = "".join(t for t, _answer in self._pending)
        answer = self._pending[-1][1]
        cut = len(text)
        for _ in range(self.term.max_lines + self.term.screen.lines):
            cut = text.rfind("\n", 0, cut)
            if cut < 0:
                return
        if "\x1b" in text[:cut]:
            return
        scrolled = min(text.count("\n", 0, cut), self.term.screen.lines)
        self.term.feed("\r\n" * scrolled)  # what was on the screen scrolls off it
        self._pending = deque([(text[cut + 1 :], answer)])
        self._pending_size = len(text) - cut - 1

    def note(self, text: str) -> None:
        """A line of ours, not the guest's (connection changes), after whatever is shown."""
        self.flush()
        newline = "\r\n" if self.term.screen.cursor.x else ""
        self.term.feed(newline + NOTE.format(text))
        self._sync()

    def reset(self) -> None:
        self.term.reset()
        self._fed = False
        self._pending.clear()
        self._pending_size = 0
        if self._batch is not None:
            self._batch.stop()
            self._batch = None
        self._history.clear()
        self._follow = True
        self._sync()

    def _sync(self) -> None:
        self.virtual_size = Size(self.term.screen.columns, self.term.rows)
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            # The new rows may not be scrollable before layout: once more after it.
            self.scroll_end(animate=False, x_axis=False)
        self.refresh()

    def action_scroll_end(self) -> None:
        self._follow = True  # asked for the end: follow it, whatever arrived meanwhile
        self._sync()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(new_value) >= self.max_scroll_y:
            self._follow = True
        elif new_value < old_value:
            self._follow = False

    # -- rendering ---------------------------------------------------------------------------
    def on_resize(self, _event: events.Resize) -> None:
        region = self.scrollable_content_region
        if region.width <= 0 or region.height <= 0:
            return  # hidden: the guest's screen keeps its size (and its contents)
        if (region.width, region.height) != (self.term.screen.columns, self.term.screen.lines):
            self.term.resize(region.width, region.height)
            self._sync()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        base = self.rich_style
        width = self.scrollable_content_region.width
        if index >= self.term.rows:
            return Strip.blank(width, base)
        strip = self._strip(index)
        return strip.apply_style(base).crop_extend(0, width, base)

    def _strip(self, index: int) -> Strip:
        term = self.term
        columns = term.screen.columns
        row = term.row(index)
        if index < len(term.history):  # scrollback rows never change: drawn once
            cached = self._history.get(id(row))
            if cached is not None and cached[0] is row and cached[1] == columns:
                return cached[2]
            strip = Strip(row_segments(row, columns))
            self._history.set(id(row), (row, columns, strip))
            return strip
        cursor = term.cursor if self.raw else None  # where typing lands, while typing
        col = cursor[0] if cursor is not None and cursor[1] == index else None
        return Strip(row_segments(row, columns, col))

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
        if event.key in SCROLL_KEYS:
            getattr(self, f"action_{SCROLL_KEYS[event.key]}")()
            return
        # Each key goes as it comes, as a terminal sends it: an Esc at once (Textual hands it
        # over only once its own escape delay has passed), and Alt+key as ESC+key in one write.
        # Holding an Esc back to join it with the next key made a vi Esc and a `:q!` typed a
        # moment later reach the guest as one escape sequence, which vi swallowed.
        data = key_data(event.key, event.character)
        if data:
            self._type(data)

    def _type(self, data: str) -> None:
        self._follow = True
        self._sync()
        self.post_message(self.Typed(data))

    def on_paste(self, event: events.Paste) -> None:
        if self.raw and event.text:
            event.stop()
            self.post_message(self.Typed(event.text.replace("\r\n", "\r").replace("\n", "\r")))
