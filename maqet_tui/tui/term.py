"""The guest's serial terminal: a pyte screen of the pane's size over a bounded scrollback.

pyte does the VT100/xterm work (cursor addressing, scroll regions, erases, insert/delete, SGR
with 256 and true colours, wide characters); this module adds what a terminal window adds to
it: the rows that scroll off the top are kept (up to `max_lines`), the alternate screen that
full-screen programs ask for, answers to the guest's queries (the cursor position, `ESC[6n`,
is how busybox learns the size of a serial terminal), and rows as Rich segments.

No Textual here: only Rich styles, so it is testable as plain code.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

import pyte
from pyte.screens import Margins
from rich.color import Color
from rich.segment import Segment
from rich.style import Style

MAX_LINES = 2000
COLUMNS, LINES = 80, 24  # until the pane is laid out
ALT_SCREENS = {47, 1047, 1049}  # private modes: the alternate screen (1049 saves the cursor too)
Row = Any  # pyte's row: a dict of column -> Char, with a default blank

_NAMES = ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"]
_ANSI = {name: i for i, name in enumerate(_NAMES)} | {
    f"bright{name}": i + 8 for i, name in enumerate(_NAMES)
}


def _color(name: str) -> Color | None:
    if name == "default":
        return None
    if name in _ANSI:
        return Color.from_ansi(_ANSI[name])  # the theme's own 16 colours
    try:
        return Color.parse(f"#{name}")  # 256 colours and true colour come as hex
    except Exception:
        return None


_styles: dict[tuple[Any, ...], Style | None] = {}


def char_style(attrs: tuple[Any, ...]) -> Style | None:
    """A pyte Char's attributes (everything after `data`) as a Rich style (cached: few differ)."""
    style = _styles.get(attrs)
    if style is None and attrs not in _styles:
        fg, bg, bold, italics, underscore, strike, reverse, blink = attrs
        if (fg, bg) != ("default", "default") or any(attrs[2:]):
            style = Style(
                color=_color(fg),
                bgcolor=_color(bg),
                bold=bold or None,
                italic=italics or None,
                underline=underscore or None,
                strike=strike or None,
                reverse=reverse or None,
                blink=blink or None,
            )
        _styles[attrs] = style
    return style


CURSOR = Style(reverse=True)


def row_segments(row: Row, columns: int, cursor: int | None = None) -> list[Segment]:
    """A row as segments, one per run of equal style; `cursor` is drawn in reverse video."""
    segments: list[Segment] = []
    run: list[str] = []
    attrs: tuple[Any, ...] | None = None
    for x in range(columns):
        ch = row[x]
        if not ch.data:
            continue  # the second half of a wide character
        key = tuple(ch[1:])
        if x == cursor:
            key = (*key, "cursor")
        if key != attrs and run:
            segments.append(Segment("".join(run), _run_style(attrs)))
            run = []
        attrs = key
        run.append(ch.data)
    if run:
        segments.append(Segment("".join(run), _run_style(attrs)))
    return segments


def _run_style(key: tuple[Any, ...] | None) -> Style | None:
    if key is None:
        return None
    if key[-1] == "cursor":
        base = char_style(key[:-1])
        return base + CURSOR if base is not None else CURSOR
    return char_style(key)


def row_text(row: Row, columns: int) -> str:
    return "".join(row[x].data for x in range(columns)).rstrip()


class GuestScreen(pyte.Screen):
    """A pyte screen that keeps what scrolls off its top and answers the guest's queries."""

    def __init__(self, columns: int, lines: int, max_lines: int = MAX_LINES) -> None:
        super().__init__(columns, lines)
        self.history: deque[Row] = deque(maxlen=max_lines)
        self.answers: list[str] = []
        self._main: tuple[dict[int, Row], Any] | None = None  # the main screen, while alt shows

    @property
    def alternate(self) -> bool:
        return self._main is not None

    def index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == bottom and top == 0 and self._main is None:
            # The row leaves the buffer for good (pyte shifts references), so no copy is needed.
            self.history.append(self.buffer[top])
        super().index()

    def write_process_input(self, data: str) -> None:
        self.answers.append(data)

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and ALT_SCREENS & set(modes) and self._main is None:
            self._main = ({y: self.buffer[y] for y in range(self.lines)}, copy.copy(self.cursor))
            self.buffer.clear()
            self.dirty.update(range(self.lines))
        keep = [m for m in modes if not kwargs.get("private") or m not in ALT_SCREENS]
        super().set_mode(*keep, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and ALT_SCREENS & set(modes) and self._main is not None:
            rows, cursor = self._main
            self._main = None
            # Resized while the alternate screen showed (raw mode's banner, a terminal resize):
            # the main screen keeps its cursor row, its top rows going to the scrollback.
            drop = max(0, cursor.y + 1 - self.lines)
            self.history.extend(rows[y] for y in range(drop) if y in rows)
            self.buffer.clear()
            self.buffer.update(
                {y - drop: row for y, row in rows.items() if drop <= y < drop + self.lines}
            )
            cursor.y -= drop
            self.cursor = cursor
            self.ensure_hbounds()
            self.ensure_vbounds()
            self.dirty.update(range(self.lines))
        keep = [m for m in modes if not kwargs.get("private") or m not in ALT_SCREENS]
        super().reset_mode(*keep, **kwargs)

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """As pyte's, but a shorter screen loses only the rows above the cursor that no longer
        fit, into the scrollback (pyte cuts the top rows, the prompt with them if they are
        all the screen has)."""
        lines = lines or self.lines
        if lines < self.lines:
            drop = max(0, self.cursor.y + 1 - lines)
            rows = [self.buffer[y] for y in range(self.lines)]
            if self._main is None:
                self.history.extend(rows[:drop])
            self.buffer.clear()
            self.buffer.update(enumerate(rows[drop : drop + lines]))
            self.cursor.y -= drop
            self.lines = lines
            self.set_margins()
            self.dirty.update(range(lines))
        super().resize(lines, columns)


class GuestTerm:
    """The screen, its stream parser and the queries to answer, fed with the guest's output."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.max_lines = max_lines
        self.screen = GuestScreen(COLUMNS, LINES, max_lines)
        self.stream = pyte.Stream(self.screen)

    def reset(self) -> None:
        self.screen = GuestScreen(self.screen.columns, self.screen.lines, self.max_lines)
        self.stream = pyte.Stream(self.screen)

    def feed(self, data: str) -> list[str]:
        """Take guest output; returns the answers to queries it held (to send back)."""
        self.stream.feed(data)
        answers, self.screen.answers = self.screen.answers, []
        return answers

    def resize(self, columns: int, lines: int) -> None:
        self.screen.resize(max(1, lines), max(1, columns))

    @property
    def history(self) -> deque[Row]:
        return self.screen.history

    @property
    def rows(self) -> int:
        """Scrollback rows plus the screen's."""
        return len(self.screen.history) + int(self.screen.lines)

    def row(self, index: int) -> Row:
        history = self.screen.history
        if index < len(history):
            return history[index]
        return self.screen.buffer[index - len(history)]

    @property
    def cursor(self) -> tuple[int, int] | None:
        """(column, row of `row()`) of the cursor, None while the guest hides it."""
        cur = self.screen.cursor
        if cur.hidden:
            return None
        return int(cur.x), len(self.screen.history) + int(cur.y)

    @property
    def lines(self) -> list[str]:
        """Every row as plain text, scrollback first, the blank rows at the end left out."""
        columns = self.screen.columns
        out = [row_text(self.row(i), columns) for i in range(self.rows)]
        while out and not out[-1]:
            out.pop()
        return out
