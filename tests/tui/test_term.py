"""The console's terminal: what the demo guest's busybox really sends, rendered right."""

from __future__ import annotations

import pytest
from rich.color import Color
from rich.segment import Segment

from maqet_tui.tui.term import GuestTerm, row_segments
from maqet_tui.tui.widgets.console_log import key_data

# Captured from the demo guest: a prompt with its cursor-position query, a command, colours.
BUSYBOX = (
    "MAQET GUEST READY 2.45\r\n\r\nBusyBox v1.35.0\r\n/ # \x1b[6necho $((6*7))\r\n42\r\n"
    "/ # ls --color=always /\r\n\x1b[1;34mbin\x1b[m   \x1b[1;32minit\x1b[m\r\n/ # \x1b[6n"
)
# Recorded from busybox vi on the demo guest (`vi /tmp/x` on a 80x24 terminal), shortened.
VI = (
    "\x1b[?1049h\x1b[999;999H\x1b[6n\x1b[1;1H\x1b[J"
    + "".join(f"\x1b[{row};1H~" for row in range(2, 24))
    + '\x1b[24;1H\x1b[K"/tmp/x" [New]\x1b[1;1H'
)


def styles(term: GuestTerm, index: int) -> dict[str, object]:
    return {s.text: s.style for s in row_segments(term.row(index), term.screen.columns)}


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, len(BUSYBOX)])
def test_busybox_output_whatever_the_chunking(chunk: int) -> None:
    term = GuestTerm()
    answers = []
    for i in range(0, len(BUSYBOX), chunk):
        answers += term.feed(BUSYBOX[i : i + chunk])
    assert term.lines == [
        "MAQET GUEST READY 2.45",
        "",
        "BusyBox v1.35.0",
        "/ # echo $((6*7))",
        "42",
        "/ # ls --color=always /",
        "bin   init",
        "/ #",
    ]
    assert answers == ["\x1b[4;5R", "\x1b[8;5R"]  # where the cursor was, each time it asked
    assert term.cursor == (4, 7)
    colours = styles(term, 6)
    assert getattr(colours["bin"], "bold", False) and getattr(colours["init"], "bold", False)
    assert getattr(colours["bin"], "color", None) == Color.from_ansi(4)


def test_a_full_screen_program_and_back() -> None:
    term = GuestTerm()
    term.feed("/ # vi /tmp/x\r\n")
    assert term.feed(VI) == ["\x1b[24;80R"]  # vi learns the size by going far and asking
    assert term.lines == [""] + ["~"] * 22 + ['"/tmp/x" [New]']
    term.feed("\x1b[?1049l/ # ")  # vi leaves: the shell's screen comes back
    assert term.lines == ["/ # vi /tmp/x", "/ #"]


def test_line_editing_redraws_in_place() -> None:
    term = GuestTerm()
    term.feed("/ # abc\b \b\bX\x1b[K")  # backspace-space-backspace, then erase to the end
    assert term.lines == ["/ # aX"]
    term.feed("\r/ # ab\x1b[1D\x1b[Pc")  # cursor left, delete a char, type
    assert term.lines == ["/ # ac"]
    term.feed("\r\n50%\r100%\r\n")  # a progress line rewrites itself
    assert term.lines == ["/ # ac", "100%"]


def test_extended_and_wide() -> None:
    term = GuestTerm()
    term.feed("\x1b[38;5;196mR\x1b[48;2;1;2;3mG\x1b[39;49mN\x1b[0m 中文!\r\n")
    spans = styles(term, 0)
    assert getattr(spans["R"], "color", None) == Color.from_rgb(255, 0, 0)
    assert getattr(spans["G"], "bgcolor", None) == Color.from_rgb(1, 2, 3)
    assert term.lines[0] == "RGN 中文!"  # each wide character once, two cells wide
    assert sum(seg.cell_length for seg in row_segments(term.row(0), 80)) == 80


def test_a_resize_while_a_full_screen_program_shows_keeps_the_shells_last_row() -> None:
    """Raw mode entered while vi shows (its banner takes a row): after vi, the prompt row the
    shell's cursor is on must still be on screen, not cut off below it."""
    term = GuestTerm()
    term.resize(80, 6)
    term.feed("".join(f"line {i}\r\n" for i in range(5)) + "/ # vi /tmp/x\r\n")
    term.feed("\x1b[?1049h\x1b[H\x1b[2J~\r\n~")  # vi on the alternate screen
    term.resize(80, 5)
    term.feed("\x1b[?1049l/ # ")  # vi leaves; the shell prints its prompt where its cursor was
    screen = [row_text_of(term, y) for y in range(term.screen.lines)]
    assert screen[-1] == "/ #" and screen[-2] == "/ # vi /tmp/x"
    assert term.cursor is not None and term.cursor[1] == term.rows - 1


def row_text_of(term: GuestTerm, y: int) -> str:
    return "".join(term.screen.buffer[y][x].data for x in range(term.screen.columns)).rstrip()


def test_scrollback_is_bounded_and_resizing_keeps_the_cursor_row() -> None:
    term = GuestTerm(max_lines=5)
    term.feed("".join(f"line {i}\r\n" for i in range(30)) + "/ # ")
    assert len(term.history) == 5 and term.lines[0] == "line 2"
    term.resize(40, 3)  # shorter: the rows above the cursor go to the scrollback, not away
    assert term.lines[-3:] == ["line 28", "line 29", "/ #"] and term.cursor == (4, 7)


def test_the_cursor_is_drawn_reversed() -> None:
    term = GuestTerm()
    term.feed("ab")
    segments = row_segments(term.row(0), 4, cursor=2)
    assert segments[0] == Segment("ab", None)
    assert segments[1].text == " " and getattr(segments[1].style, "reverse", False)


@pytest.mark.parametrize(
    ("key", "character", "sent"),
    [
        ("enter", "\r", "\r"),
        ("backspace", "\x7f", "\x7f"),
        ("tab", "\t", "\t"),
        ("up", None, "\x1b[A"),
        ("left", None, "\x1b[D"),
        ("ctrl+c", "\x03", "\x03"),
        ("ctrl+d", "\x04", "\x04"),
        ("ctrl+a", "\x01", "\x01"),
        ("ctrl+l", None, "\x0c"),
        ("f1", None, "\x1bOP"),
        ("f5", None, "\x1b[15~"),
        ("q", "q", "q"),
        ("dollar_sign", "$", "$"),
        ("shift+f1", None, None),
    ],
)
def test_keys_become_terminal_bytes(key: str, character: str | None, sent: str | None) -> None:
    assert key_data(key, character) == sent
