"""A one-line terminal for the serial console: guest bytes in, styled scrollback lines out.

A serial console is mostly a log (kernel messages, command output) with line editing on its last
line (a shell prompt redrawing itself with \\r, \\b and erase sequences). So only the last line is
a live terminal row with a cursor; once a newline ends it, it is frozen into the bounded
scrollback. That renders busybox, getty and kernel output faithfully without a full screen model,
and anything addressing other rows (cursor up, scroll regions, screen clears, DSR queries such as
the shell's ESC[6n) is dropped rather than shown as garbage.

No Textual here: only Rich styles, so it is testable as plain code.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text

MAX_LINES = 2000
# A "line" the guest never ends (a runaway program) is cut here so memory stays bounded.
MAX_COLUMNS = 4096
# An escape sequence still open after this many characters is garbage, not a sequence.
MAX_PENDING = 256
TAB = 8

# One token: a CSI sequence, an OSC string, a charset designation, another ESC sequence, one
# control character, or a run of printable text.
TOKEN = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[()*+].|\x1b[ -/]*[0-~]"
    r"|([\x00-\x1f\x7f])"
    r"|([^\x00-\x1f\x7f\x1b]+)",
    re.DOTALL,
)
# What a chunk may end with when a sequence is split across two reads.
OPEN_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[()*+]|[ -/]*)?\Z")


@dataclass(frozen=True)
class Pen:
    """The graphic rendition SGR sequences set; a frozen value so cells can share it."""

    fg: Color | None = None
    bg: Color | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    blink: bool = False
    reverse: bool = False
    strike: bool = False

    def style(self) -> Style | None:
        if self == PLAIN:
            return None
        return Style(
            color=self.fg,
            bgcolor=self.bg,
            bold=self.bold or None,
            dim=self.dim or None,
            italic=self.italic or None,
            underline=self.underline or None,
            blink=self.blink or None,
            reverse=self.reverse or None,
            strike=self.strike or None,
        )


PLAIN = Pen()
_FLAGS = {1: "bold", 2: "dim", 3: "italic", 4: "underline", 5: "blink", 7: "reverse", 9: "strike"}
_CLEAR = {22: ("bold", "dim"), 23: ("italic",), 24: ("underline",), 25: ("blink",)}
_CLEAR |= {27: ("reverse",), 29: ("strike",)}


def _extended(codes: list[int], i: int) -> tuple[Color | None, int]:
    """38/48 colours: `5;n` (256 colours) or `2;r;g;b`; returns the colour and codes used."""
    kind = codes[i + 1] if i + 1 < len(codes) else None
    if kind == 5 and i + 2 < len(codes):
        return Color.from_ansi(codes[i + 2] & 0xFF), 3
    if kind == 2 and i + 4 < len(codes):
        r, g, b = (c & 0xFF for c in codes[i + 2 : i + 5])
        return Color.from_rgb(r, g, b), 5
    return None, len(codes) - i  # malformed: ignore the rest, as terminals do


def apply_sgr(pen: Pen, params: str) -> Pen:
    codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
    i = 0
    while i < len(codes):
        code, used = codes[i], 1
        if code == 0:
            pen = PLAIN
        elif code in _FLAGS:
            flags: dict[str, Any] = {_FLAGS[code]: True}
            pen = replace(pen, **flags)
        elif code in _CLEAR:
            cleared: dict[str, Any] = dict.fromkeys(_CLEAR[code], False)
            pen = replace(pen, **cleared)
        elif 30 <= code <= 37 or 90 <= code <= 97:
            pen = replace(pen, fg=Color.from_ansi(code - 30 if code < 90 else code - 82))
        elif 40 <= code <= 47 or 100 <= code <= 107:
            pen = replace(pen, bg=Color.from_ansi(code - 40 if code < 100 else code - 92))
        elif code in (38, 48):
            color, used = _extended(codes, i)
            if color is not None:
                which: dict[str, Any] = {"fg" if code == 38 else "bg": color}
                pen = replace(pen, **which)
        elif code == 39:
            pen = replace(pen, fg=None)
        elif code == 49:
            pen = replace(pen, bg=None)
        i += used
    return pen


def _number(params: str, default: int = 1) -> int:
    head = params.split(";", 1)[0]
    return int(head) if head.isdigit() and int(head) > 0 else default


class LineTerm:
    """Scrollback (`lines`, at most `max_lines`) plus the live last row and its cursor."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.lines: deque[Text] = deque(maxlen=max_lines)
        self.cells: list[tuple[str, Pen]] = []
        self.col = 0
        self.pen = PLAIN
        self._pending = ""

    def reset(self) -> None:
        self.lines.clear()
        self.cells = []
        self.col = 0
        self.pen = PLAIN
        self._pending = ""

    @property
    def current(self) -> Text:
        return _text(self.cells)

    def feed(self, data: str) -> tuple[int, int]:
        """Take guest output; returns (lines added to, lines dropped from the scrollback)."""
        data, self._pending = _hold_open(self._pending + data)
        before = len(self.lines)
        added = 0
        for m in TOKEN.finditer(data):
            text, control, final = m.group(4), m.group(3), m.group(2)
            if text is not None:
                added += self._put(text)
            elif control is not None:
                added += self._control(control)
            elif final is not None:
                self._csi(m.group(1), final)
            # OSC strings and other ESC sequences (titles, charsets, keypad modes): dropped.
        maxlen = self.lines.maxlen or 0
        dropped = max(0, before + added - maxlen) if maxlen else 0
        return added, dropped

    # -- the live row ------------------------------------------------------------------------
    def _put(self, text: str) -> int:
        added = 0
        if self.col == len(self.cells) and self.col + len(text) <= MAX_COLUMNS:
            self.cells.extend((ch, self.pen) for ch in text)  # the common case: appending
            self.col += len(text)
            return 0
        for ch in text:
            if self.col >= MAX_COLUMNS:
                added += self._newline()
            if self.col < len(self.cells):
                self.cells[self.col] = (ch, self.pen)
            else:
                self._pad(self.col)
                self.cells.append((ch, self.pen))
            self.col += 1
        return added

    def _pad(self, upto: int) -> None:
        if len(self.cells) < upto:
            self.cells.extend([(" ", PLAIN)] * (upto - len(self.cells)))

    def _newline(self) -> int:
        self.lines.append(_text(self.cells))
        self.cells = []
        self.col = 0
        return 1

    def _control(self, ch: str) -> int:
        if ch == "\n":
            return self._newline()  # a serial tty sends \r\n; a bare \n starts a line too
        if ch == "\r":
            self.col = 0
        elif ch == "\b":
            self.col = max(0, self.col - 1)
        elif ch == "\t":
            self.col = min(MAX_COLUMNS - 1, (self.col // TAB + 1) * TAB)
        return 0  # BEL, NUL, SO/SI, DEL...: nothing to show

    def _csi(self, params: str, final: str) -> None:
        if params.startswith(("?", ">", "<", "=")):
            return  # private modes (cursor visibility, bracketed paste...): nothing to draw
        n = _number(params)
        if final == "m":
            self.pen = apply_sgr(self.pen, params)
        elif final == "K" or final == "J":
            self._erase(_number(params, 0) if params else 0)
        elif final == "C":
            self.col = min(MAX_COLUMNS - 1, self.col + n)
        elif final == "D":
            self.col = max(0, self.col - n)
        elif final in "GH`f":
            # Column addressing; H/f also name a row, which a one-line terminal ignores.
            col = params.split(";")[1] if final in "Hf" and ";" in params else params
            self.col = min(MAX_COLUMNS - 1, _number(col) - 1)
        elif final == "P":
            del self.cells[self.col : self.col + n]
        elif final == "@":
            self._pad(self.col)
            self.cells[self.col : self.col] = [(" ", PLAIN)] * n
        elif final == "X":
            self._pad(self.col + n)
            self.cells[self.col : self.col + n] = [(" ", PLAIN)] * n
        # Anything else (cursor up/down, DSR "6n", scroll regions): no effect on one line.

    def _erase(self, mode: int) -> None:
        if mode == 0:
            del self.cells[self.col :]
        elif mode == 1:
            self._pad(self.col + 1)
            self.cells[: self.col + 1] = [(" ", PLAIN)] * (self.col + 1)
        else:
            self.cells = []


def _hold_open(data: str) -> tuple[str, str]:
    """Split off a sequence the next read will finish. The last two ESCs are tried, earliest
    first: an OSC string cut inside its ESC-backslash terminator ends with a second ESC."""
    cut = data.rfind("\x1b")
    if cut < 0:
        return data, ""
    for start in (data.rfind("\x1b", 0, cut), cut):
        if start >= 0 and len(data) - start <= MAX_PENDING and OPEN_SEQUENCE.match(data, start):
            return data[:start], data[start:]
    return data, ""


def _text(cells: list[tuple[str, Pen]]) -> Text:
    """Cells as Text, one span per run of equal pens, trailing blanks trimmed."""
    end = len(cells)
    while end and cells[end - 1] == (" ", PLAIN):
        end -= 1
    out = Text(no_wrap=False, end="")
    run: list[str] = []
    pen = PLAIN
    for ch, cell_pen in cells[:end]:
        if cell_pen != pen and run:
            out.append("".join(run), pen.style())
            run = []
        pen = cell_pen
        run.append(ch)
    if run:
        out.append("".join(run), pen.style())
    return out
