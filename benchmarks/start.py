"""Figure 1: `maqet-tui start` (a real CLI process) until it returns, against a bare QEMU spawned
until its first QMP command is answered."""

from __future__ import annotations

import time

from .common import (
    TINY_VM,
    BenchEnv,
    Figure,
    bare_argv,
    connect_qmp,
    median,
    quit_bare,
    run_timed,
    spawn_bare,
    summary,
)

TARGET_RATIO = 6.0


def bare_start(env: BenchEnv) -> float:
    """Spawn → QMP greeting → qmp_capabilities → query-status answered."""
    path = env.sock("st")
    t0 = time.perf_counter()
    proc = spawn_bare(env, bare_argv(path))
    qmp = connect_qmp(path, proc)
    qmp.cmd("qmp_capabilities")
    reply = qmp.cmd("query-status")
    dt = time.perf_counter() - t0
    assert reply["return"]["status"] == "running", reply
    quit_bare(proc, qmp)
    return dt


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    from maqet_tui.core.manager import Manager

    n = 5 if quick else 15
    home = env.home("start")
    m = Manager(home)
    m.add("s1", TINY_VM)
    cli_env = env.env(home)

    def ours() -> float:
        dt, _ = run_timed([env.cli, "start", "s1"], cli_env)
        m.stop("s1", force=True, timeout=10)  # not timed
        return dt

    # One of each first, unrecorded: page cache, pyc files, the database's first write.
    ours()
    bare_start(env)
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        if i % 2 == 0:
            b.append(bare_start(env))
            a.append(ours())
        else:
            a.append(ours())
            b.append(bare_start(env))
    base, mine = median(b) * 1e3, median(a) * 1e3
    return [
        Figure(
            "start",
            "CLI start (until QMP answers)",
            "ms",
            base,
            mine,
            f"< {TARGET_RATIO:g}x",
            mine < TARGET_RATIO * base,
            baseline_what="bare qemu spawn until first QMP command answered",
            details={"ours_ms": summary(a, 1e3), "baseline_ms": summary(b, 1e3)},
        )
    ]
