"""The Overview's `guest` line: what the runner's `guest` events say about a VM with an agent
channel (a real runner and QEMU; the connected agent is a `guest` event as the runner sends it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.messages import RunnerEvent

from .conftest import main_screen, static_text, status_cell, wait_until

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


async def test_the_overview_shows_the_agent_and_the_guests_addresses(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    vm = tiny_vm("vm1", agent=True)
    manager.start("vm1")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")

        def overview() -> str:
            return static_text(main_screen(app).query_one("#overview-body"))

        def guest_line() -> str:
            lines = [ln for ln in overview().splitlines() if ln.startswith("guest ")]
            return lines[0].removeprefix("guest").strip() if lines else ""

        # The runner's first `guest` event: no agent on this guestless VM.
        await wait_until(pilot, lambda: vm["id"] in app.guests, "the first guest event")
        await wait_until(pilot, lambda: guest_line() == "agent not connected", "no agent")
        report = {
            "agent": True,
            "ips": ["10.0.2.15", "fec0::5054:ff:fe12:3456"],
            "hostname": "vm1",
            "os": "Debian GNU/Linux 12 (bookworm)",
        }
        app.post_message(RunnerEvent(vm["id"], "guest", report))
        want = (
            "agent connected · 10.0.2.15 fec0::5054:ff:fe12:3456 · vm1 · "
            "Debian GNU/Linux 12 (bookworm)"
        )
        await wait_until(pilot, lambda: guest_line() == want, "the agent's report")
        assert "fds 3, 4 and 5 stand for the runner's" not in overview()  # live: read from /proc
        manager.stop("vm1", force=True)
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "stopped", "vm1 stopped")
        await wait_until(
            pilot,
            lambda: guest_line() == "agent channel (the VM is not running)",
            "no agent when off",
        )
        await wait_until(pilot, lambda: vm["id"] not in app.guests, "the report dropped")
        assert "fds 3, 4 and 5 stand for the runner's" in overview()


async def test_a_vm_without_the_agent_has_no_guest_line(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("vm1")
    manager.start("vm1")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        body = main_screen(app).query_one("#overview-body")
        await wait_until(pilot, lambda: "socket" in static_text(body), "the overview")
        assert "agent" not in static_text(body)
