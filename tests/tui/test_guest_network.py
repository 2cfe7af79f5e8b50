"""Guests with a network in the TUI: the SSH column, the network lines of the Overview, and the
forwards dialog (`f`) changing a running QEMU's forwards for real. A tiny VM on `--net isolated`
(user-mode with restrict=on: it reaches nothing) stands in for a guest: QEMU's slirp takes the
forwards whatever runs inside, and `info usernet` says what it really has."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.forwards import ForwardsScreen
from maqet_tui.tui.widgets.vm_table import VMTable

from .conftest import (
    current_screen,
    footer_actions,
    main_screen,
    notes,
    static_text,
    status_cell,
    vm_id,
    wait_until,
)

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def forward(port: int, guest: int = 22) -> dict[str, Any]:
    return {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": port, "guest_port": guest}


def forwarded(manager: Manager, name: str) -> set[int]:
    """The host ports QEMU's user-mode network really forwards (HMP `info usernet`)."""
    text = str(manager.qmp(name, "human-monitor-command", {"command-line": "info usernet"}))
    rows = [line.split() for line in text.splitlines()]
    return {int(r[3]) for r in rows if r and r[0] == "TCP[HOST_FORWARD]"}


def ssh_cell(app: MaqetApp, name: str) -> str | None:
    table = main_screen(app).query_one(VMTable)
    ident = vm_id(app, name)
    if ident is None or "ssh" not in table.columns:
        return None
    return table.get_cell(ident, "ssh").plain


async def test_ssh_column_overview_and_keys(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    port = free_port()
    tiny_vm("plain")
    tiny_vm("net1", net="isolated", forwards=[forward(port)])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: ssh_cell(app, "net1") == str(port), "the SSH column")
        assert ssh_cell(app, "plain") == "-"
        await pilot.press("j")  # net1 sorts before plain: the cursor starts on it
        await pilot.press("k")
        await wait_until(pilot, lambda: main_screen(app).shown_id == vm_id(app, "net1"), "net1")
        body = static_text(main_screen(app).query_one("#overview-body"))
        assert "isolated · mac 52:54:00:" in body
        assert f"tcp 127.0.0.1:{port}→22" in body
        # Stopped: forwards can be edited, there is nothing to ssh into yet.
        assert "forwards" in footer_actions(app) and "ssh" not in footer_actions(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: status_cell(app, "net1") == "running", "net1 running")
        await wait_until(pilot, lambda: "ssh" in footer_actions(app), "x offered")
        # Pilot's terminal cannot be handed to ssh: said, nothing breaks.
        await pilot.press("x")
        await wait_until(pilot, lambda: any("maqet-tui ssh net1" in n for n in notes(app)), "why")
        await pilot.press("j")  # plain: no network, so neither key applies
        await wait_until(pilot, lambda: main_screen(app).shown_id == vm_id(app, "plain"), "plain")
        assert not {"ssh", "forwards"} & footer_actions(app)


async def test_forwards_dialog_changes_the_running_qemu(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    ssh, extra = free_port(), free_port()
    tiny_vm("net1", net="isolated", forwards=[forward(ssh)])
    manager.start("net1")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    app = make_app()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: status_cell(app, "net1") == "running", "running")
            await pilot.press("f")
            await wait_until(pilot, lambda: isinstance(app.screen, ForwardsScreen), "the dialog")
            dialog = current_screen(app)
            assert isinstance(dialog, ForwardsScreen)
            await wait_until(pilot, lambda: len(dialog.forwards) == 1, "the SSH forward listed")
            await pilot.press(*f"tcp:{extra}:80", "enter")
            await wait_until(pilot, lambda: len(dialog.forwards) == 2, "the new one listed")
            assert forwarded(manager, "net1") == {ssh, extra}
            assert forward(extra, 80) in manager.get("net1")["config"]["forwards"]
            # A port another program holds: said in the dialog, nothing changed.
            taken = busy.getsockname()[1]
            await pilot.press(*f"tcp:{taken}:81", "enter")
            await wait_until(
                pilot, lambda: "in use" in static_text(dialog.query_one("#fwd-error")), "why"
            )
            assert len(manager.get("net1")["config"]["forwards"]) == 2
            # Remove the second row: gone from QEMU and from the definition.
            await pilot.press("tab", "down", "d")
            await wait_until(pilot, lambda: len(dialog.forwards) == 1, "removed")
            assert forwarded(manager, "net1") == {ssh}
            assert manager.get("net1")["config"]["forwards"] == [forward(ssh)]
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is main_screen(app), "closed")
    finally:
        busy.close()


def said(app: MaqetApp, text: str) -> bool:
    return any(text in note for note in notes(app))


async def test_x_and_f_say_why_they_cannot_apply(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    """A key that silently does nothing reads as broken: on a VM they do not fit, `x` and `f`
    say why (and stay out of the footer)."""
    tiny_vm("a-plain")
    tiny_vm("b-net", net="isolated")
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: main_screen(app).shown_id == vm_id(app, "a-plain"), "a")
        await wait_until(pilot, lambda: app.manager is not None, "the store open")
        assert not {"ssh", "forwards"} & set(footer_actions(app))
        await pilot.press("f")
        await wait_until(pilot, lambda: said(app, "a-plain has network none"), "f says why")
        assert said(app, "maqet-tui set a-plain net=isolated")
        await pilot.press("j")
        await wait_until(pilot, lambda: main_screen(app).shown_id == vm_id(app, "b-net"), "b")
        await pilot.press("x")
        await wait_until(pilot, lambda: said(app, "b-net has no SSH forward"), "x says why")
        assert isinstance(current_screen(app), type(main_screen(app)))  # nothing else opened
