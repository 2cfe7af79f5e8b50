"""The console's one-line terminal: what the demo guest's busybox really sends, rendered right."""

from __future__ import annotations

import pytest
from rich.color import Color

from maqet_tui.tui.term import LineTerm
from maqet_tui.tui.widgets.console_log import key_data

# Captured from the demo guest: a prompt with its cursor-position query, a command, colours.
BUSYBOX = (
    "MAQET GUEST READY 2.45\r\n\r\nBusyBox v1.35.0\r\n/ # \x1b[6necho $((6*7))\r\n42\r\n"
    "/ # ls --color=always /\r\n\x1b[1;34mbin\x1b[m   \x1b[1;32minit\x1b[m\r\n/ # \x1b[6n"
)


def plain(term: LineTerm) -> list[str]:
    return [line.plain for line in term.lines]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, len(BUSYBOX)])
def test_busybox_output_whatever_the_chunking(chunk: int) -> None:
    term = LineTerm()
    for i in range(0, len(BUSYBOX), chunk):
        term.feed(BUSYBOX[i : i + chunk])
    assert plain(term) == [
        "MAQET GUEST READY 2.45",
        "",
        "BusyBox v1.35.0",
        "/ # echo $((6*7))",
        "42",
        "/ # ls --color=always /",
        "bin   init",
    ]
    assert term.current.plain == "/ #" and term.col == 4  # the query left nothing behind
    colours = term.lines[-1]
    styles = [(s.start, s.end, s.style) for s in colours.spans]
    assert [(a, b) for a, b, _s in styles] == [(0, 3), (6, 10)]
    assert all(getattr(s, "bold", False) for _a, _b, s in styles)
    assert getattr(styles[0][2], "color", None) == Color.from_ansi(4)


def test_line_editing_redraws_in_place() -> None:
    term = LineTerm()
    term.feed("/ # abc\b \b\bX\x1b[K")  # backspace-space-backspace, then erase to the end
    assert term.current.plain == "/ # aX"
    term.feed("\r/ # ab\x1b[1D\x1b[Pc")  # cursor left, delete a char, type
    assert term.current.plain == "/ # ac"
    term.feed("\r\n50%\r100%\r\n")  # a progress line rewrites itself
    assert plain(term) == ["/ # ac", "100%"]


def test_sequences_that_cannot_be_shown_are_dropped() -> None:
    term = LineTerm()
    term.feed("\x1b]0;title\x07a\x1b[?25lb\x1b[2Ac\x1b(Bd\x1b7e\x1b[5;3Hf\x07\x00g\r\n")
    # The row addressing (5;3H) moved the cursor to column 3: "f" overwrote "c", "g" followed.
    assert plain(term) == ["abfge"]


def test_osc_split_inside_its_terminator() -> None:
    term = LineTerm()
    term.feed("x\x1b]0;a title\x1b")
    term.feed("\\y\r\n")
    assert plain(term) == ["xy"]


def test_extended_colours() -> None:
    term = LineTerm()
    term.feed("\x1b[38;5;196mR\x1b[48;2;1;2;3mG\x1b[39;49mN\x1b[0m\r\n")
    spans = {term.lines[0].plain[s.start : s.end]: s.style for s in term.lines[0].spans}
    assert getattr(spans["R"], "color", None) == Color.from_ansi(196)
    assert getattr(spans["G"], "bgcolor", None) == Color.from_rgb(1, 2, 3)
    assert "N" not in spans  # back to defaults: no style at all


def test_scrollback_is_bounded_and_reports_drops() -> None:
    term = LineTerm(max_lines=5)
    added, dropped = term.feed("".join(f"line {i}\r\n" for i in range(8)))
    assert (added, dropped) == (8, 3)
    assert plain(term) == [f"line {i}" for i in range(3, 8)]


def test_a_line_that_never_ends_is_cut() -> None:
    term = LineTerm()
    added, _ = term.feed("x" * 10_000)
    assert added == 2 and len(term.current.plain) == 10_000 - 2 * 4096


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
