"""TUI test helpers: build the app on the test's home, poll the UI with a deadline.

Waiting is always "pause the pilot until a condition holds or a generous deadline passes"; no test
sleeps for a fixed time and none asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, RichLog, Static
from textual.widgets._footer import FooterKey

from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.main import MainScreen
from maqet_tui.tui.widgets.console_log import ConsoleLog
from maqet_tui.tui.widgets.console_pane import ConsolePane
from maqet_tui.tui.widgets.snapshot_pane import SnapshotPane
from maqet_tui.tui.widgets.vm_table import VMTable
from tests.helpers import Env

HANG = 15.0  # a deadline for hangs only; conditions normally hold within a fraction of it


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make every frame with a focused Input differ (Harlequin's trick)."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture
def make_app(env: Env) -> Iterator[Callable[..., MaqetApp]]:
    def make(**kwargs: Any) -> MaqetApp:
        kwargs.setdefault("frozen_host", True)
        return MaqetApp(str(env.home), **kwargs)

    yield make
    store.close_db()


RunningApp = Callable[..., AbstractAsyncContextManager[tuple[MaqetApp, Pilot[Any]]]]


@pytest.fixture
def running_app(
    make_app: Callable[..., MaqetApp], tiny_vm: Callable[..., dict[str, Any]], manager: Manager
) -> RunningApp:
    """`async with running_app() as (app, pilot)`: a tiny VM `vm1` started, the app open on it
    at 80x24, and its row saying `running` (the start of most tests of a live VM)."""

    @asynccontextmanager
    async def run(
        name: str = "vm1", size: tuple[int, int] = (80, 24)
    ) -> AsyncIterator[tuple[MaqetApp, Pilot[Any]]]:
        tiny_vm(name)
        manager.start(name)
        app = make_app()
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: status_cell(app, name) == "running", f"{name} running")
            yield app, pilot

    return run


async def wait_until(
    pilot: Pilot[Any], pred: Callable[[], object], what: str, timeout: float = HANG
) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


def main_screen(app: MaqetApp) -> MainScreen:
    assert app.main is not None
    return app.main


def focused(app: MaqetApp) -> Widget | None:
    """`app.focused`, read afresh: a key press moves focus, which mypy's narrowing cannot know."""
    return app.focused


def current_screen(app: MaqetApp) -> Screen[Any]:
    """`app.screen`, read afresh (as `focused`)."""
    return app.screen


def vm_id(app: MaqetApp, name: str) -> str | None:
    return next((i for i, vm in app.vms.items() if vm["name"] == name), None)


def table_names(app: MaqetApp) -> list[str]:
    table = main_screen(app).query_one(VMTable)
    return [table.get_cell(i, "name").plain for i in table.ids]


def status_cell(app: MaqetApp, name: str) -> str | None:
    table = main_screen(app).query_one(VMTable)
    ident = vm_id(app, name)
    if ident is None or ident not in table.ids:
        return None
    return table.get_cell(ident, "status").plain


def log_text(log: RichLog) -> str:
    return "\n".join(line.text for line in log.lines)


def footer_actions(app: MaqetApp) -> set[str]:
    return {key.action for key in app.screen.query(FooterKey)}


async def select(pilot: Pilot[Any], app: MaqetApp, name: str) -> None:
    """Move the table cursor onto `name` with the keyboard (j/k)."""
    table = main_screen(app).query_one(VMTable)
    ident = vm_id(app, name)
    assert ident is not None, name
    target = table.ids.index(ident)
    assert pilot.app.focused is table, "select() types j/k: the VM table must have focus"
    deadline = time.monotonic() + HANG
    while table.cursor_row != target:
        assert time.monotonic() < deadline, f"the cursor never reached {name}"
        await pilot.press("j" if table.cursor_row < target else "k")
    await wait_until(pilot, lambda: main_screen(app).shown_id == ident, f"{name} shown")


def console_log(app: MaqetApp) -> ConsoleLog:
    return main_screen(app).query_one(ConsoleLog)


def console_pane(app: MaqetApp) -> ConsolePane:
    return main_screen(app).query_one(ConsolePane)


def snapshot_pane(app: MaqetApp) -> SnapshotPane:
    return main_screen(app).query_one(SnapshotPane)


async def cli(*args: str) -> tuple[int, str]:
    """The real CLI in another process (env from the fixtures: home, runtime dir, accel)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "maqet_tui",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


def notes(app: MaqetApp) -> list[str]:
    """The notifications shown so far (Textual keeps them privately; nothing public lists them)."""
    return [n.message for n in app._notifications]


def static_text(widget: Widget) -> str:
    """What a Static shows, as plain text (markup, Text or a Rich renderable alike)."""
    assert isinstance(widget, Static)
    content = widget.content
    if isinstance(content, str):
        return Text.from_markup(content).plain
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()
