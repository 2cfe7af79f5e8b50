"""Many CLI processes at once on a few VMs: no "database is locked", never two runners for one
VM, and the store agrees with the processes that exist at the end."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from maqet_tui.manager import Manager
from maqet_tui.procs import is_alive
from tests.helpers import Env
from tests.stress import Hammer

TinyVM = Callable[..., dict[str, Any]]
SECONDS = float(os.environ.get("MAQET_TUI_STRESS_SECONDS", "15"))


def test_concurrent_cli_loops(manager: Manager, tiny_vm: TinyVM, env: Env) -> None:
    names = [f"c{i}" for i in range(4)]
    for n in names:
        tiny_vm(n)
    out = Hammer(env, names, SECONDS).start().join(SECONDS + 180)
    print(f"\n{out.total} CLI operations by 8 loops in {SECONDS:g} s: {dict(out.ops)}")
    assert not out.unexpected, "\n".join(out.unexpected[:20])
    assert not out.doubles, out.doubles[:5]
    assert out.total >= 8 * 3
    # The store matches reality: a VM reads running/paused exactly when its runner lives.
    for vm in manager.list():
        alive = is_alive(vm["runner_pid"], vm["runner_started"])
        assert (vm["status"] in ("running", "paused")) == alive, vm
