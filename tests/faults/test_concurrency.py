"""Many CLI processes at once on a few VMs: no "database is locked", never two runners for one
VM, and the store agrees with the processes that exist at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from maqet_tui.common.procs import cmdline, is_alive
from maqet_tui.core.manager import Manager
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


def test_start_racing_set_runs_the_stored_definition_or_fails(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    """Reported: `set` landing between `start` reading the definition and recording `starting`
    made `start` print 'vm1 is stopped' and exit 0 (4 of 20). Now a start that exits 0 runs the
    definition the store holds, and one that loses the race says so."""
    tiny_vm("vm1")
    cli = [sys.executable, "-m", "maqet_tui"]
    e = {**os.environ, "MAQET_TUI_HOME": str(env.home)}
    outcomes: list[str] = []
    for i in range(12):
        memory = 64 + 32 * (i % 2)
        setter = subprocess.Popen([*cli, "set", "vm1", f"memory={memory}"], env=e)
        out = subprocess.run([*cli, "start", "vm1"], env=e, capture_output=True, text=True)
        setter.wait(timeout=60)
        if out.returncode == 0:
            assert "vm1 is running" in out.stdout, out.stdout
            vm = manager.get("vm1")
            argv = cmdline(vm["qemu_pid"])
            assert argv[argv.index("-m") + 1] == str(vm["config"]["memory"])
            outcomes.append("ran")
        else:
            assert out.stderr.startswith("error: ") and out.stderr[-1] == "\n", out.stderr
            outcomes.append("refused")
        manager.stop("vm1", force=True)
    assert "ran" in outcomes
