"""A runner killed under the TUI's eyes, then started again from another process: the TUI says
crashed and why, then follows the new runner (status and console) without being told."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp

from .conftest import (
    cli,
    console_log,
    console_pane,
    main_screen,
    static_text,
    status_cell,
    vm_id,
    wait_until,
)

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]


async def test_runner_sigkilled_then_restarted_from_the_cli(
    make_app: MakeApp, tiny_vm: TinyVM, manager: Manager
) -> None:
    tiny_vm("vm1")
    first = manager.start("vm1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "vm1 running")
        ident = vm_id(app, "vm1")
        assert ident is not None
        await pilot.press("5", "escape")  # the console follows runners too
        await wait_until(pilot, lambda: ident in app.subs.active, "status subscription")
        await wait_until(pilot, lambda: console_log(app).connected, "console subscription")

        os.kill(first["runner_pid"], signal.SIGKILL)
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "crashed", "vm1 crashed")
        reason = app.vms[ident]["last_error"] or ""
        assert "runner" in reason and "died" in reason, reason
        await pilot.press("1")
        overview = static_text(main_screen(app).query_one("#overview-body"))
        assert "last error" in overview and reason in overview
        await pilot.press("5", "escape")
        console_status = static_text(console_pane(app).query_one("#console-status"))
        assert "vm1 is crashed" in console_status and reason in console_status
        assert not console_log(app).connected

        # Started again by another process: the store watcher sees the new runner, the app
        # subscribes to it, and a pause made by yet another process shows.
        rc, out = await cli("start", "vm1")
        assert rc == 0, out
        second = manager.get("vm1")
        assert second["runner_pid"] != first["runner_pid"]
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "running again")
        await wait_until(
            pilot,
            lambda: (
                console_pane(app).stream.key == (ident, second["socket_path"], second["runner_pid"])
                and console_log(app).connected
            ),
            "the console on the new runner",
        )
        rc, out = await cli("pause", "vm1")
        assert rc == 0, out
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "paused", "paused from the CLI")
        rc, out = await cli("resume", "vm1")
        assert rc == 0, out
        await wait_until(pilot, lambda: status_cell(app, "vm1") == "running", "resumed")
