"""The TUI against real runners and real (tiny, TCG) QEMUs: keys in, table and panes out."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from textual.command import CommandList, CommandPalette
from textual.widgets import Input, RichLog

from maqet_tui.common.errors import ConfigError
from maqet_tui.common.procs import is_alive
from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.screens.vm_form import VMFormScreen
from maqet_tui.tui.widgets.event_log import EventLog
from maqet_tui.tui.widgets.qmp_console import QMPInput

from .conftest import (
    RunningApp,
    cli,
    current_screen,
    footer_actions,
    log_text,
    main_screen,
    select,
    status_cell,
    table_names,
    vm_id,
    wait_until,
)

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


def palette_text(app: MaqetApp) -> str:
    options = app.screen.query_one(CommandList)
    return "\n".join(
        str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
    )


async def test_start_from_keyboard_then_pause_from_cli(make_app: MakeApp, tiny_vm: TinyVM) -> None:
    tiny_vm("vm0")
    tiny_vm("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "vm1 listed")
        await select(pilot, app, "vm1")
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        assert status_cell(app, "vm0") == "stopped"

        rc, out = await cli("pause", "vm1")
        assert rc == 0, out
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "paused", "vm1 paused")
        # The Events pane shows the change too, from the same store history.
        await pilot.press("3")
        events = main_screen(app).query_one(EventLog)
        await wait_until(pilot, lambda: "paused" in log_text(events), "pause in the events pane")


async def test_qmp_pane(running_app: RunningApp) -> None:
    async with running_app() as (app, pilot):
        await pilot.press("2", "enter")  # QMP tab, focus its input
        qmp_log = main_screen(app).query_one("#qmp-log", RichLog)
        await pilot.press(*"query-status", "enter")
        await wait_until(pilot, lambda: '"status": "running"' in log_text(qmp_log), "answer")

        await pilot.press(*"no-such-command", "enter")
        await wait_until(pilot, lambda: "CommandNotFound" in log_text(qmp_log), "QMP error")
        await pilot.press(*'query-status {"oops"', "enter")
        await wait_until(pilot, lambda: "not valid JSON" in log_text(qmp_log), "JSON error")

        # A pause typed as raw QMP (not through the manager) shows in the table: the runner
        # follows QEMU's STOP event and the subscription brings it here.
        await pilot.press(*"stop", "enter")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "paused", "paused via QMP")
        # History: up brings back the last command.
        box = main_screen(app).query_one(QMPInput)
        await pilot.press("up")
        assert box.value == "stop"

        # Completion from the VM's own query-commands: ambiguous lists, unique completes.
        await wait_until(pilot, lambda: "query-status" in box.completer.commands, "commands")
        box.value = ""
        await pilot.press(*"query-stat", "tab")
        await wait_until(pilot, lambda: "query-stats-schemas" in log_text(qmp_log), "candidates")
        await pilot.press("u", "tab")
        assert box.value == "query-status "


async def test_delete_with_confirm(make_app: MakeApp, tiny_vm: TinyVM, manager: Manager) -> None:
    tiny_vm("keep")
    tiny_vm("gone")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: table_names(app) == ["gone", "keep"], "both listed")
        await select(pilot, app, "gone")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm dialog")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "dialog gone")
        assert table_names(app) == ["gone", "keep"]
        assert [vm["name"] for vm in manager.list()] == ["gone", "keep"]

        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: table_names(app) == ["keep"], "row removed")
    assert [vm["name"] for vm in manager.list()] == ["keep"]


async def test_add_form_validates_inline(make_app: MakeApp, manager: Manager) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, VMFormScreen), "form")
        form = app.screen
        assert isinstance(form, VMFormScreen)
        await pilot.press(*"bad/name", "tab", *"lots", "enter")
        await wait_until(pilot, lambda: form.query_one("#err-memory").has_class("-shown"), "errors")
        assert "invalid VM name" in str(form.query_one("#err-name").render())
        assert "not a size" in str(form.query_one("#err-memory").render())
        assert app.screen is form and manager.list() == []

        form.query_one("#f-name").value = "good-vm"  # type: ignore[attr-defined]
        form.query_one("#f-memory").value = "64"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: "good-vm" in table_names(app), "new row")
        assert current_screen(app) is main_screen(app)
    assert [vm["name"] for vm in manager.list()] == ["good-vm"]


async def test_a_save_error_lands_under_the_field_it_names(make_app: MakeApp) -> None:
    """Placement follows `exc.field`, not the wording: this message names no field."""
    saved: list[dict[str, Any]] = []

    def save(name: str, config: dict[str, Any]) -> dict[str, Any]:
        saved.append(config)
        raise ConfigError("1536 MiB is more than this host can give", field="memory")

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.loaded, "store loaded")
        form = VMFormScreen(save)
        await app.push_screen(form)
        await wait_until(pilot, lambda: bool(form.query("#f-memory")), "form")
        form.query_one("#f-name", Input).value = "sized"
        form.query_one("#f-memory", Input).value = "1.5G"
        form.submit()
        await wait_until(pilot, lambda: form.query_one("#err-memory").has_class("-shown"), "error")
        assert "more than this host" in str(form.query_one("#err-memory").render())
        assert not form.query_one("#err-form").has_class("-shown")
        assert [c["memory"] for c in saved] == [1536]


async def test_filter_narrows_the_list(make_app: MakeApp, tiny_vm: TinyVM) -> None:
    for name in ("alpha", "beta", "web-1", "web-2"):
        tiny_vm(name)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(table_names(app)) == 4, "all listed")
        await pilot.press("slash", *"web")
        await wait_until(pilot, lambda: table_names(app) == ["web-1", "web-2"], "filtered")
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(table_names(app)) == 4, "filter cleared")


async def test_footer_follows_status(running_app: RunningApp) -> None:
    async with running_app() as (app, pilot):
        await wait_until(pilot, lambda: "stop" in footer_actions(app), "footer updated")
        shown = footer_actions(app)
        assert {"stop", "pause"} <= shown
        assert not {"start", "resume", "edit"} & shown
        screen = main_screen(app)
        assert screen.check_action("start", ()) is False
        assert screen.check_action("resume", ()) is False

        await pilot.press("p")
        await wait_until(pilot, lambda: "resume" in footer_actions(app), "resume offered")
        assert "pause" not in footer_actions(app)

        # The command palette offers what applies to each VM, by name.
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
        await pilot.press(*"resume vm1")
        await wait_until(pilot, lambda: "Resume vm1" in palette_text(app), "palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "resumed")


async def test_quit_leaves_vms_running(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "vm1 listed")
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "app exited")
    vm = manager.get("vm1")
    assert vm["status"] == "running"
    assert is_alive(vm["qemu_pid"]) and manager.runner_alive("vm1")
    assert manager.qmp("vm1", "query-status")["status"] == "running"


async def test_qemu_killed_shows_crashed(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("vm1")
    qemu_pid = manager.start("vm1")["qemu_pid"]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        os.kill(qemu_pid, signal.SIGKILL)
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "crashed", "vm1 crashed")
        ident = vm_id(app, "vm1")
        assert ident is not None
        assert "SIGKILL" in (app.vms[ident]["last_error"] or "")
        await wait_until(pilot, lambda: "start" in footer_actions(app), "start offered")

        # Started again: the app follows the new runner (a new subscription) and sees a raw
        # QMP stop sent by another process.
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "running again")
        await wait_until(pilot, lambda: ident in app.subs.active, "subscribed to the new runner")
        rc, out = await cli("qmp", "vm1", "stop")
        assert rc == 0, out
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "paused", "paused")


async def test_edit_a_stopped_vm(make_app: MakeApp, tiny_vm: TinyVM, manager: Manager) -> None:
    disk = manager.paths.home / "data.img"
    disk.write_bytes(b"\0" * 65536)
    tiny_vm("vm1", disks=[str(disk)], qemu_args=["-device", "virtio-rng-pci"])
    before = manager.get("vm1")["config"]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "vm1 listed")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, VMFormScreen), "edit form")
        await pilot.press(*"128", "enter")  # memory has focus, its text selected
        await wait_until(pilot, lambda: not isinstance(app.screen, VMFormScreen), "saved")
        await wait_until(pilot, lambda: manager.get("vm1")["config"]["memory"] == 128, "saved")
    after = manager.get("vm1")["config"]
    assert {**before, "memory": 128} == after  # disks, args, accel... untouched
