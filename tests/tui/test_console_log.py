"""The console log widget on its own (in a minimal app): following output, scrollback bounds,
and raw mode taking every key away from the app's bindings."""

from __future__ import annotations

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding

from maqet_tui.tui.widgets.console_log import ConsoleLog

from .conftest import wait_until


class Host(App[None]):
    CSS = "ConsoleLog { height: 10; overflow-x: hidden; overflow-y: auto; }"
    BINDINGS = [Binding("q", "quit_pressed", "Quit"), Binding("up", "up_pressed", "Up")]

    def __init__(self, max_lines: int = 2000) -> None:
        super().__init__()
        self.max_lines = max_lines
        self.typed: list[str] = []
        self.app_keys: list[str] = []

    def compose(self) -> ComposeResult:
        yield ConsoleLog(self.max_lines)

    @on(ConsoleLog.Typed)
    def _typed(self, event: ConsoleLog.Typed) -> None:
        self.typed.append(event.data)

    def action_quit_pressed(self) -> None:
        self.app_keys.append("q")

    def action_up_pressed(self) -> None:
        self.app_keys.append("up")


def at_end(log: ConsoleLog) -> bool:
    return log.max_scroll_y > 0 and log.scroll_offset.y == log.max_scroll_y


async def test_follows_a_burst_and_holds_when_scrolled_back() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ConsoleLog)
        await pilot.pause()
        # Many lines in one go: the scrollbar appears only after layout, and the view must
        # still end up following the output (it once stayed at the top).
        for i in range(30):
            log.feed(f"line {i}\r\n")
        await wait_until(pilot, lambda: at_end(log), "the view at the newest line")
        log.focus()
        await pilot.press("pageup")
        held = log.scroll_offset.y
        assert held < log.max_scroll_y
        log.feed("more\r\n")
        await pilot.pause()
        assert log.scroll_offset.y == held  # reading back is never undone by new output
        await pilot.press("end")
        log.feed("again\r\n")
        await wait_until(pilot, lambda: at_end(log), "following again")


async def test_scrollback_is_bounded() -> None:
    app = Host(max_lines=50)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ConsoleLog)
        await pilot.pause()
        log.feed("".join(f"{i:05d} {'x' * 100}\r\n" for i in range(200)))  # two rows each
        log.flush()
        assert len(log.term.history) == 50  # rows that scrolled off the screen
        screen = log.term.screen
        assert screen.lines == 10 and log.plain_text.split("\n")[1].startswith("00171 ")
        await wait_until(pilot, lambda: log.virtual_size.height == 60, "50 rows + the screen")


async def test_raw_mode_takes_every_key() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ConsoleLog)
        log.focus()
        await pilot.press("i")  # not connected: nothing to type into
        assert not log.raw
        log.connected = True
        await pilot.press("i")
        assert log.raw
        await pilot.press("q", "up", "ctrl+c", "enter", "tab", "backspace")
        await wait_until(pilot, lambda: len(app.typed) == 6, "six keys typed")
        assert app.typed == ["q", "\x1b[A", "\x03", "\r", "\t", "\x7f"]
        assert app.app_keys == []  # none of them reached the app's bindings
        await pilot.press("ctrl+right_square_bracket")
        assert not log.raw
        await pilot.press("q")
        assert app.app_keys == ["q"]
        log.raw = True
        log.connected = False  # the stream ended: raw mode ends with it
        assert not log.raw


async def test_escape_and_alt_reach_the_guest_whole() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ConsoleLog)
        log.focus()
        log.connected = True
        await pilot.press("i")
        # vi: Esc then a command key; readline: Alt+b (back a word) is ESC b, Alt+. ESC .
        await pilot.press("escape", "colon", "alt+b", "alt+shift+f", "alt+full_stop", "alt+up")
        await wait_until(pilot, lambda: "".join(app.typed).count("\x1b") >= 5, "all keys")
        assert "".join(app.typed) == "\x1b:\x1bb\x1bF\x1b.\x1b\x1b[A"
        # Alt+key is one write, as a terminal sends it; an Esc key goes alone, at once.
        assert app.typed[:2] == ["\x1b", ":"] and "\x1bb" in app.typed
        assert app.app_keys == [] and log.raw


async def test_an_esc_is_not_joined_to_the_keys_typed_after_it() -> None:
    """vi: Esc, then `:q!` a moment later. Joined into one write the guest reads `ESC :` as an
    escape sequence and swallows the command (the user is stuck in vi)."""
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ConsoleLog)
        log.focus()
        log.connected = True
        await pilot.press("i", "escape")
        await wait_until(pilot, lambda: app.typed == ["\x1b"], "the Esc on its own")
        await pilot.press("colon", "q", "exclamation_mark", "enter")
        await wait_until(pilot, lambda: len(app.typed) == 5, "the command")
        assert app.typed == ["\x1b", ":", "q", "!", "\r"]
        assert app.app_keys == [] and log.raw
