"""Snapshots of the screens people see first, at 80x24 (and the main screen at 120x36).

Frames must not depend on the run: VM ids are rewritten to fixed values, event times are pinned
and shown in UTC, the host line is frozen and no VM runs (no pids, no uptimes). Review changed
SVGs (snapshot_report.html) before accepting them with --snapshot-update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.messages import HostRows, HostsLoaded
from maqet_tui.tui.screens.help import HelpScreen
from maqet_tui.tui.screens.vm_form import VMFormScreen

from .conftest import console_log, main_screen, wait_until

FIXED_TS = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
TinyVM = Callable[..., dict[str, Any]]
Snap = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def stable_vms(
    manager: Manager, tiny_vm: TinyVM, names: list[str], **config: dict[str, Any]
) -> None:
    """Add stopped VMs whose ids and event times are the same on every run (`config`: more of a
    VM's definition, by name)."""
    for i, name in enumerate(names, 1):
        vm = tiny_vm(name, cpus=i, **config.get(name, {}))
        fixed = f"0000{i:04x}"
        store.open_db(manager.paths.db)
        with store.immediate():
            store.VM.update(id=fixed).where(store.VM.id == vm["id"]).execute()
            store.Event.update(vm_id=fixed, ts=FIXED_TS + i).where(
                store.Event.vm_id == vm["id"]
            ).execute()


def crash(manager: Manager, name: str, why: str) -> None:
    store.open_db(manager.paths.db)
    vm = store.find(name)
    with store.immediate():
        store.update_vm(vm.id, status="crashed", last_error=why)
        store.Event.update(ts=FIXED_TS + 10).where(store.Event.vm_id == vm.id).execute()


async def settled(pilot: Pilot[Any]) -> None:
    """Rows and the selected VM's events are in (the first frame a user would look at)."""
    app = pilot.app
    assert isinstance(app, MaqetApp)
    await wait_until(pilot, lambda: app.loaded and bool(main_screen(app).events), "data")


def test_main_screen_stopped_vms(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    stable_vms(manager, tiny_vm, ["db", "demo", "web-1"])
    assert snap_compare(make_app(), run_before=settled)


def test_main_screen_wide(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    stable_vms(manager, tiny_vm, ["db", "demo", "web-1"])
    assert snap_compare(make_app(), run_before=settled, terminal_size=(120, 36))


def test_vm_with_a_network_selected(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    """The SSH column, and the network and forwards in the Overview (the VM is stopped, so no
    port is bound: the numbers are only its definition)."""
    fwd = {"proto": "tcp", "host_addr": "127.0.0.1"}
    web = {
        "net": "isolated",
        "forwards": [
            {**fwd, "host_port": 2222, "guest_port": 22},
            {**fwd, "host_port": 8080, "guest_port": 80},
        ],
    }
    stable_vms(manager, tiny_vm, ["db", "web-1"], **{"web-1": web})

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await pilot.press("j")
        app = pilot.app
        assert isinstance(app, MaqetApp)
        await wait_until(pilot, lambda: main_screen(app).shown_id == "00000002", "web-1 shown")

    assert snap_compare(make_app(), run_before=run_before)


def test_crashed_vm_selected(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    stable_vms(manager, tiny_vm, ["db", "demo"])
    crash(manager, "demo", "QEMU killed by SIGKILL")

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await pilot.press("j")
        app = pilot.app
        assert isinstance(app, MaqetApp)
        await wait_until(
            pilot,
            lambda: any(e["name"] == "crashed" for e in main_screen(app).events),
            "crash event shown",
        )

    assert snap_compare(make_app(), run_before=run_before)


def test_help_screen(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    stable_vms(manager, tiny_vm, ["demo"])

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")

    assert snap_compare(make_app(), run_before=run_before)


def test_add_form_with_errors(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    stable_vms(manager, tiny_vm, ["demo"])

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, VMFormScreen), "form")
        await pilot.press(*"bad/name", "tab", *"lots", "tab", *"0", "enter")
        form = pilot.app.screen
        await wait_until(pilot, lambda: form.query_one("#err-cpus").has_class("-shown"), "errors")

    assert snap_compare(make_app(), run_before=run_before)


def test_add_form_empty(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    stable_vms(manager, tiny_vm, ["demo"])

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, VMFormScreen), "form")

    assert snap_compare(make_app(), run_before=run_before)


def recorded_vi(columns: int, lines: int) -> str:
    """What busybox vi draws for `vi /etc/motd` on a terminal of this size (its escapes, with a
    256-colour and a true-colour word added, and a wide-character line)."""
    text = [
        "\x1b[1;38;5;33mmaqet\x1b[m demo guest",
        "\x1b[38;2;255;128;0mtrue colour\x1b[m, 中文 wide",
        "",
    ]
    rows = [f"\x1b[{y};1H{line}" for y, line in enumerate(text, 1)]
    rows += [f"\x1b[{y};1H~" for y in range(len(text) + 1, lines)]
    status = f'"/etc/motd" {len(text)}L'
    return (
        "/ # vi /etc/motd\r\n\x1b[?1049h\x1b[1;1H\x1b[J"
        + "".join(rows)
        + f"\x1b[{lines};1H\x1b[7m{status}\x1b[m\x1b[{lines};{columns - 10}H1,1  All"
        + "\x1b[1;1H"
    )


def test_console_full_screen_program(
    snap_compare: Snap, make_app: Callable[..., MaqetApp], manager: Manager, tiny_vm: TinyVM
) -> None:
    stable_vms(manager, tiny_vm, ["demo"])

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await pilot.press("5")
        app = pilot.app
        assert isinstance(app, MaqetApp)
        log = console_log(app)
        await wait_until(pilot, lambda: log.size.height > 0, "the console laid out")
        screen = log.term.screen
        log.feed(recorded_vi(screen.columns, screen.lines), answer=False)
        await pilot.pause()

    assert snap_compare(make_app(), run_before=run_before)


def test_main_screen_with_hosts(
    snap_compare: Snap,
    make_app: Callable[..., MaqetApp],
    manager: Manager,
    tiny_vm: TinyVM,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The HOST column at 80x24. The rows of host `lab2` are handed to the app as its agent
    would push them, once the local rows are in (the real ssh path is
    tests/fleet/test_tui_hosts.py): a frame that does not depend on an sshd's timing."""
    stable_vms(manager, tiny_vm, ["db", "web-1"])
    template = manager.get("db")
    pushed = [
        {**template, "id": f"0000be{i:02x}", "name": name}
        for i, name in enumerate(["web-2", "web-10"], 1)
    ]
    store.close_db()

    class PushedHost:
        def __init__(self, _paths: object, post: Callable[[Any], object]) -> None:
            self.post = post
            self.watches: dict[str, object] = {}

        def sync(self, rows: list[dict[str, Any]]) -> set[str]:
            self.watches = {str(r["name"]): object() for r in rows}
            return set()

        def want(self, vm: object) -> list[object]:
            return []

        def follows(self, host: str) -> bool:
            return True

        def stop(self) -> None:
            pass

    monkeypatch.setattr("maqet_tui.tui.app.FleetWatch", PushedHost)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        app = pilot.app
        assert isinstance(app, MaqetApp)
        app.post_message(HostsLoaded([{"name": "lab2"}]))
        app.post_message(HostRows("lab2", pushed))
        await wait_until(pilot, lambda: len(main_screen(app).table.ids) == 4, "both hosts' rows")

    assert snap_compare(make_app(), run_before=run_before)
