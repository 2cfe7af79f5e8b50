"""Figure 5: `maqet-tui ls --json` over 1000 stopped VMs, against `python -c pass`."""

from __future__ import annotations

import json
import sys

from .common import BenchEnv, Figure, median, run_alternated, run_timed, summary

VMS = 1000
LIMIT_MS = 250.0


def populate(count: int) -> None:
    """Insert `count` stopped VMs into the open store in one transaction (setup, not timed)."""
    from maqet_tui.store import models as store

    with store.db.atomic("IMMEDIATE"):
        for i in range(count):
            store.insert_vm(f"vm{i:04d}", {"memory": 64, "cpus": 1, "accel": "tcg"})


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    from maqet_tui.core.manager import Manager
    from maqet_tui.store import models as store

    n = 5 if quick else 15
    home = env.home("ls")
    Manager(home)  # creates and opens the store
    populate(VMS)
    store.close_db()
    cli_env = env.env(home)
    ours_argv = [env.cli, "ls", "--json"]
    base_argv = [sys.executable, "-c", "pass"]

    _, cp = run_timed(ours_argv, cli_env)  # warm-up, and a check that all rows come back
    rows = json.loads(cp.stdout)
    assert len(rows) == VMS, len(rows)
    run_timed(base_argv, cli_env)
    a, b = run_alternated(ours_argv, base_argv, cli_env, n)
    ours, base = median(a) * 1e3, median(b) * 1e3
    return [
        Figure(
            "ls_json",
            f"ls --json, {VMS} VMs",
            "ms",
            base,
            ours,
            f"< {LIMIT_MS:g} ms",
            ours < LIMIT_MS,
            baseline_what="python -c pass",
            details={"ours_ms": summary(a, 1e3), "baseline_ms": summary(b, 1e3)},
        )
    ]
