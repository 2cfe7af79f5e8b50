"""The TUI attached while eight CLI loops hammer four VMs: it keeps up and ends in agreement
with the store, and its presence causes no lock errors or double runners."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from maqet_tui.core.manager import Manager
from maqet_tui.tui.app import MaqetApp
from tests.helpers import Env
from tests.stress import Hammer

from .conftest import status_cell, wait_until

SECONDS = float(os.environ.get("MAQET_TUI_STRESS_SECONDS", "15"))


async def test_tui_agrees_with_the_store_after_a_storm(
    make_app: Callable[..., MaqetApp],
    tiny_vm: Callable[..., dict[str, Any]],
    env: Env,
    manager: Manager,
) -> None:
    names = [f"t{i}" for i in range(4)]
    for n in names:
        tiny_vm(n)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: all(status_cell(app, n) for n in names), "all listed")
        hammer = Hammer(env, names, SECONDS).start()
        await wait_until(pilot, hammer.done, "the storm to pass", timeout=SECONDS + 180)
        out = hammer.join(1)
        assert not out.unexpected, "\n".join(out.unexpected[:20])
        assert not out.doubles, out.doubles[:5]

        def differences() -> list[str]:
            return [
                f"{vm['name']}: table {status_cell(app, vm['name'])}, store {vm['status']}"
                for vm in manager.list()
                if status_cell(app, vm["name"]) != vm["status"]
            ]

        try:
            await wait_until(pilot, lambda: not differences(), "the table to match the store", 10)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {differences()}") from None
