"""Typing goes where it looks like it goes: the prompt a tab shows takes the keys, keys after
`q` are not acted on, and keys that arrive in one burst (as over SSH) land where the keys before
them moved focus to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, RichLog

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.vm_form import VMFormScreen
from maqet_tui.tui.widgets.console_pane import ConsoleInput
from maqet_tui.tui.widgets.qmp_console import QMPInput
from maqet_tui.tui.widgets.vm_table import VMTable

from .conftest import (
    RunningApp,
    current_screen,
    focused,
    log_text,
    main_screen,
    status_cell,
    wait_until,
)

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]
CHARS = {"tab": "\t", "enter": "\r", "escape": "\x1b", "question_mark": "?"}


def burst(pilot: Pilot[Any], *keys: str) -> None:
    """Keys as they come when several arrive in one read (over SSH, typing ahead): all queued
    at once, none handled before the next is sent (`pilot.press` waits between keys)."""
    driver = pilot.app._driver
    assert driver is not None
    for key in keys:
        driver.send_message(events.Key(key, CHARS.get(key, key if len(key) == 1 else None)))


async def test_the_qmp_prompt_takes_what_is_typed_after_2(running_app: RunningApp) -> None:
    async with running_app() as (app, pilot):
        burst(pilot, "2", *"query-status", "enter")
        log = main_screen(app).query_one("#qmp-log", RichLog)
        await wait_until(pilot, lambda: '"running"' in log_text(log), "the answer")
        assert app.is_running  # the `q` of query-status was typed, not a quit
        assert isinstance(focused(app), QMPInput)
        await pilot.press("escape")
        assert isinstance(focused(app), VMTable)
        # [ and ] choose tabs too: the QMP prompt again, from the Events tab.
        await pilot.press("3", "left_square_bracket")
        assert isinstance(focused(app), QMPInput)


async def test_the_console_prompt_takes_what_is_typed_after_5(running_app: RunningApp) -> None:
    async with running_app() as (app, pilot):
        burst(pilot, "5", *"echo hi")
        box = main_screen(app).query_one(ConsoleInput)
        await wait_until(pilot, lambda: box.value == "echo hi", "the line typed")
        assert box.value == "echo hi"
        assert focused(app) is box
        assert current_screen(app) is main_screen(app)  # `e` did not open the edit form
        await pilot.press("escape")
        assert isinstance(focused(app), VMTable)


async def test_a_stopped_vm_keeps_the_keys_on_the_list(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    """No prompt to type into on a stopped VM: `5` then `s` starts it."""
    tiny_vm("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "vm1 listed")
        await pilot.press("5")
        assert isinstance(focused(app), VMTable)
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "started")
        manager.stop("vm1", force=True)


async def test_a_click_on_the_qmp_tab_focuses_its_prompt(running_app: RunningApp) -> None:
    async with running_app() as (app, pilot):
        await pilot.click("#--content-tab-tab-qmp")
        await wait_until(pilot, lambda: isinstance(focused(app), QMPInput), "the QMP prompt")


async def test_keys_behind_q_are_not_acted_on(
    make_app: MakeApp, tiny_vm: TinyVM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qa` used to open the add form on an app shutting down: NoMatches, yet exit code 0."""
    tiny_vm("vm1")
    app = make_app()
    pushed: list[object] = []
    push = app.push_screen
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "listed")

        def spy(*args: Any, **kwargs: Any) -> Any:
            pushed.append(args)
            return push(*args, **kwargs)

        monkeypatch.setattr(app, "push_screen", spy)
        burst(pilot, "q", "a", "e", "question_mark", "N")
        await wait_until(pilot, lambda: not app.is_running, "the app gone")
    assert pushed == []  # no form, help or demo dialog was even started
    assert app.keys.closed and not app.check_action("help", ())
    assert app.return_code == 0


async def test_a_burst_after_tab_lands_in_the_next_field(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, VMFormScreen), "form")
        form = app.screen
        await wait_until(pilot, lambda: focused(app) is form.query_one("#f-name"), "name focused")
        burst(pilot, *"web", "tab", "9", "6", "tab", "3")
        await wait_until(pilot, lambda: form.query_one("#f-cpus", Input).value == "3", "typed")
        assert form.query_one("#f-name", Input).value == "web"
        assert form.query_one("#f-memory", Input).value == "96"  # tab selects what was there
        assert form.query_one("#f-cpus", Input).value == "3"
