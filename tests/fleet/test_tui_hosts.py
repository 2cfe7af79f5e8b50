"""The TUI over two hosts: this machine and `lab` (the test sshd, its own home and runtime
directory), driven with Textual's pilot against real runners and real QEMU under TCG."""

from __future__ import annotations

import os
import signal
from typing import Any

from textual.widgets import RichLog, Static

from maqet_tui.store import models as store
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.widgets.event_log import EventLog
from maqet_tui.tui.widgets.log_view import LogView
from maqet_tui.tui.widgets.vm_table import VMTable
from tests.fleet.conftest import Lab
from tests.fleet.test_remote import echo_kernel
from tests.helpers import Env, run_cli, serving, ssh_processes, wait_for
from tests.tui.conftest import (
    console_log,
    current_screen,
    log_text,
    main_screen,
    notes,
    select,
    snapshot_pane,
    static_text,
    status_cell,
    table_names,
    wait_until,
)

BOOT = 60.0  # remote starts go through ssh and a runner under a loaded host: a hang deadline


def host_cell(app: MaqetApp, name: str) -> str:
    table = main_screen(app).query_one(VMTable)
    vm_id = next(i for i, vm in app.vms.items() if vm["name"] == name)
    return table.get_cell(vm_id, "host").plain


def down_text(app: MaqetApp) -> str:
    note = main_screen(app).query_one("#hostsdown", Static)
    return static_text(note) if note.has_class("-shown") else ""


def remote_vm(lab: Lab, name: str) -> dict[str, Any]:
    try:
        return lab.remote_manager().get(name)
    finally:
        store.close_db()


def add_remote(lab: Lab, name: str) -> None:
    run_cli(lab.env, "--host", "lab", "add", name, "--memory", "64", "--accel", "tcg", check=True)


def add_local(env: Env, name: str) -> None:
    run_cli(env, "add", name, "--memory", "64", "--accel", "tcg", check=True)


async def test_two_hosts_in_one_table_with_remote_actions_and_qmp(lab: Lab) -> None:
    add_local(lab.env, "here")
    add_remote(lab, "there")
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: table_names(app) == ["here", "there"], "both hosts", BOOT)
        assert (host_cell(app, "here"), host_cell(app, "there")) == ("local", "lab")
        assert "lab:" in next(i for i, vm in app.vms.items() if vm["name"] == "there")

        await pilot.press("space", "space", "s")  # marks across hosts: one start reaches both
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "pushed", BOOT)
        await wait_until(pilot, lambda: status_cell(app, "here") == "running", "local", BOOT)
        qemu_pid = remote_vm(lab, "there")["qemu_pid"]
        assert qemu_pid and remote_vm(lab, "there")["status"] == "running"
        await wait_until(pilot, lambda: "started 2 of 2" in notes(app), "one summary")

        await select(pilot, app, "here")
        await pilot.press("p")  # a local action in the same table: the remote VM is untouched
        await wait_until(pilot, lambda: status_cell(app, "here") == "paused", "local pause")
        assert remote_vm(lab, "there")["status"] == "running"
        await select(pilot, app, "there")

        await pilot.press("p")
        await wait_until(pilot, lambda: status_cell(app, "there") == "paused", "paused pushed")
        assert remote_vm(lab, "there")["status"] == "paused"

        await pilot.press("2", *"query-status", "enter")  # the QMP pane asks the remote QEMU
        qmp_log = main_screen(app).query_one("#qmp-log", RichLog)
        await wait_until(pilot, lambda: '"status": "paused"' in log_text(qmp_log), "QMP answer")
        await pilot.press("escape")

        await pilot.press("r")
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "resumed")
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(current_screen(app), ConfirmScreen), "ask")
        await pilot.press("y")
        await wait_until(pilot, lambda: status_cell(app, "there") == "stopped", "stopped", BOOT)
        assert remote_vm(lab, "there")["status"] == "stopped"

        await select(pilot, app, "here")
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(current_screen(app), ConfirmScreen), "ask")
        await pilot.press("y")
        await wait_until(pilot, lambda: status_cell(app, "here") == "stopped", "local stop", BOOT)
        await pilot.press("slash", *"lab")  # the filter matches the host's name too
        await wait_until(pilot, lambda: table_names(app) == ["there"], "filtered by host")
    assert not any("failed" in n for n in notes(app)), notes(app)


async def test_a_killed_connection_loses_the_view_not_the_vm(lab: Lab) -> None:
    add_remote(lab, "there")
    assert run_cli(lab.env, "--host", "lab", "start", "there").returncode == 0
    qemu_pid = remote_vm(lab, "there")["qemu_pid"]
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "listed", BOOT)
        masters = [p for p, c in ssh_processes({str(lab.env.runtime)}).items() if "[mux]" in c]
        assert len(masters) == 1
        os.kill(masters[0], signal.SIGKILL)
        await wait_until(pilot, lambda: down_text(app).startswith("lab — unreachable"), "lost")
        assert status_cell(app, "there") == "unknown"  # not "stopped": nothing is known
        assert remote_vm(lab, "there")["qemu_pid"] == qemu_pid  # the VM never noticed
        assert remote_vm(lab, "there")["status"] == "running"
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "back", BOOT)
        assert down_text(app) == ""
        assert remote_vm(lab, "there")["qemu_pid"] == qemu_pid


async def test_an_unreachable_host_shows_as_down_and_the_local_vms_still_work(env: Env) -> None:
    run_cli(env, "host", "add", "lab2", "u@127.0.0.1", "--ssh-option", "Port=1", check=True)
    add_local(env, "here")
    app = MaqetApp(str(env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "lab2 — unreachable" in down_text(app), "down")
        assert "Connection refused" in down_text(app) and "retrying in" in down_text(app)
        assert host_cell(app, "here") == "local"
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "here") == "running", "local", BOOT)
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(current_screen(app), ConfirmScreen), "ask")
        await pilot.press("y")
        await wait_until(pilot, lambda: status_cell(app, "here") == "stopped", "stop", BOOT)
        assert "lab2 — unreachable" in down_text(app)  # still retried, still said


async def test_many_unreachable_hosts_fit_in_three_rows_and_none_is_left_unsaid(env: Env) -> None:
    names = ["d1", "d2", "d3", "d4", "d5"]
    for name in names:
        run_cli(env, "host", "add", name, "u@127.0.0.1", "--ssh-option", "Port=1", check=True)
    app = MaqetApp(str(env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "3 more hosts unreachable" in down_text(app), "down")
        rows = down_text(app).split("\n")
        assert len(rows) == 3 and rows[-1] == "3 more hosts unreachable: d3, d4, d5", rows
        assert rows[0].startswith("d1 — unreachable") and rows[1].startswith("d2 — unreachable")
        note = main_screen(app).query_one("#hostsdown", Static)
        # One screen row each, cut to the width rather than wrapped: the count shows on the third
        # row (laid out on the next refresh). Wrapped, the first host's reason pushed it out.
        await wait_until(
            pilot, lambda: "3 more hosts unreachable" in note.render_line(2).text, "the count"
        )
        assert note.region.height == 3


def remote_consoles(lab: Lab) -> list[int]:
    """`console` processes serving `lab`'s home (what the Console pane runs there over ssh)."""
    return serving(lab.remote.home, b"\0console\0")


async def test_the_panes_of_a_remote_vm(lab: Lab) -> None:
    kernel = echo_kernel(lab.remote.home / "echo.bin")
    run_cli(lab.env, "--host", "lab", "add", "echo", "--memory", "64", "--accel", "tcg",
            "--kernel", str(kernel), check=True)  # fmt: skip
    assert run_cli(lab.env, "--host", "lab", "start", "echo").returncode == 0
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "echo") == "running", "listed", BOOT)
        screen = main_screen(app)
        body = screen.query_one("#overview-body", Static)
        far_pids = f"qemu {remote_vm(lab, 'echo')['qemu_pid']} · runner"
        await wait_until(pilot, lambda: far_pids in static_text(body), "the host's pids")
        assert "(on lab)" in static_text(body)
        await pilot.press("3")  # Events: read on the host through its agent
        events = screen.query_one(EventLog)
        await wait_until(pilot, lambda: "status → running" in log_text(events), "events")
        await pilot.press("4")  # the runner log, from the host
        log = screen.query_one(LogView)
        await wait_until(pilot, lambda: "qemu" in log_text(log).lower(), "the runner log")
        await pilot.press("6")  # Snapshots: the host's own answer (this VM has no qcow2 disk)
        await wait_until(
            pilot, lambda: "no qcow2 disk" in (snapshot_pane(app).error or ""), "snapshots"
        )
        await pilot.press("5")  # the Console: its own ssh channel; the prompt has the keys
        await wait_until(pilot, lambda: console_log(app).connected, "the console", BOOT)
        await pilot.press(*"ping-7f3a", "enter")
        await wait_until(
            pilot, lambda: "ping-7f3a" in console_log(app).plain_text, "the guest's echo", BOOT
        )
        assert len(remote_consoles(lab)) == 1
    wait_for(lambda: not remote_consoles(lab), 15, "the remote console to end with its channel")
    assert remote_vm(lab, "echo")["status"] == "running"  # only the view went away
