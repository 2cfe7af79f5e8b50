"""Figure 4: a runner's unique memory (USS) next to that of the QEMU it owns, after 2 s of life."""

from __future__ import annotations

import time

from .common import TINY_VM, BenchEnv, Figure, median

LIMIT_MB = 20.0
SETTLE_S = 2.0


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    import psutil

    from maqet_tui.core.manager import Manager

    n = 1 if quick else 3
    home = env.home("memory")
    m = Manager(home)
    runner_mb: list[float] = []
    qemu_mb: list[float] = []
    names = [f"m{i}" for i in range(n)]
    for name in names:
        m.add(name, TINY_VM)
    try:
        started = time.monotonic()
        vms = [m.start(name) for name in names]
        time.sleep(max(0.0, SETTLE_S - (time.monotonic() - started)))
        for vm in vms:
            runner = psutil.Process(vm["runner_pid"]).memory_full_info()
            qemu = psutil.Process(vm["qemu_pid"]).memory_full_info()
            runner_mb.append(runner.uss / 2**20)
            qemu_mb.append(qemu.uss / 2**20)
    finally:
        for name in names:
            m.stop(name, force=True, timeout=10)
    ours, base = median(runner_mb), median(qemu_mb)
    return [
        Figure(
            "runner_uss",
            "runner USS after 2 s",
            "MB",
            base,
            ours,
            f"< {LIMIT_MB:g} MB",
            ours < LIMIT_MB,
            baseline_what="USS of the QEMU it owns (64 MiB, tcg)",
            details={"runner_mb": runner_mb, "qemu_mb": qemu_mb},
        )
    ]
