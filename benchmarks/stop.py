"""Figure 6: graceful stop of the booted demo guest (ACPI power-down through the runner).

Baseline = QMP `quit` of a booted bare guest + the guest's own shutdown time (system_powerdown to
QEMU exit on another booted bare guest with the same kernel and initrd): what a stop costs when
nothing but QEMU and the guest is involved. Ours = `maqet-tui stop demo` wall time.
At most two guests boot at once (TCG on 2 cores).
"""

from __future__ import annotations

import time
from pathlib import Path

from .common import (
    GUEST_CACHE,
    BenchEnv,
    Figure,
    RawQMP,
    bare_argv,
    connect_qmp,
    median,
    run_timed,
    spawn_bare,
    summary,
)

TARGET_RATIO = 2.0
BOOT_DEADLINE = 90.0


class Guest:
    """A bare QEMU booting the demo kernel, serial to a file."""

    def __init__(self, env: BenchEnv, kernel: Path, initrd: Path, append: str) -> None:
        self.qmp_path = env.sock("g")
        self.log = env.runtime / f"{self.qmp_path.stem}.serial"
        extra = ["-kernel", str(kernel), "-initrd", str(initrd), "-append", append]
        extra += ["-serial", f"file:{self.log}"]
        self.proc = spawn_bare(env, bare_argv(self.qmp_path, memory=128, extra=extra))
        self.qmp: RawQMP | None = connect_qmp(self.qmp_path, self.proc)
        self.qmp.cmd("qmp_capabilities")

    def timed(self, command: str) -> float:
        """Send `command` and time until the QEMU process has exited."""
        assert self.qmp is not None
        t0 = time.perf_counter()
        self.qmp.cmd(command)
        self.proc.wait(30)
        dt = time.perf_counter() - t0
        self.close()
        return dt

    def close(self) -> None:
        if self.qmp is not None:
            self.qmp.close()
            self.qmp = None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.unlink(missing_ok=True)


def wait_ready(log: Path, ready: str, offset: int = 0) -> None:
    deadline = time.monotonic() + BOOT_DEADLINE
    needle = ready.encode()
    while time.monotonic() < deadline:
        try:
            with open(log, "rb") as f:
                size = f.seek(0, 2)
                f.seek(offset if size >= offset else 0)
                if needle in f.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"no {ready!r} in {log} within {BOOT_DEADLINE:g} s")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    from maqet_tui.core.demo import demo_config
    from maqet_tui.core.guest_image import KERNEL_APPEND, READY_LINE, ensure_guest
    from maqet_tui.core.manager import Manager

    n = 1 if quick else 3
    image = ensure_guest(GUEST_CACHE)
    home = env.home("stop")
    m = Manager(home)
    vm_id = m.add("demo", demo_config(image))["id"]
    serial = m.paths.serial_log(vm_id)
    cli_env = env.env(home)
    ours: list[float] = []
    powerdown: list[float] = []
    quits: list[float] = []
    for i in range(n):
        # Phase 1: ours and a bare guest boot side by side (two at once), then both are stopped
        # gracefully, in alternating order.
        offset = _size(serial)
        bare = Guest(env, image.kernel, image.initrd, KERNEL_APPEND)
        try:
            m.start("demo", timeout=BOOT_DEADLINE)
            wait_ready(serial, READY_LINE, offset)
            wait_ready(bare.log, READY_LINE)
            if i % 2 == 0:
                ours.append(run_timed([env.cli, "stop", "demo"], cli_env)[0])
                powerdown.append(bare.timed("system_powerdown"))
            else:
                powerdown.append(bare.timed("system_powerdown"))
                ours.append(run_timed([env.cli, "stop", "demo"], cli_env)[0])
        finally:
            bare.close()
            m.stop("demo", force=True, timeout=10)
        assert m.get("demo")["status"] == "stopped", m.get("demo")
        # Phase 2: a booted bare guest told to quit.
        bare = Guest(env, image.kernel, image.initrd, KERNEL_APPEND)
        try:
            wait_ready(bare.log, READY_LINE)
            quits.append(bare.timed("quit"))
        finally:
            bare.close()
    base = (median(quits) + median(powerdown)) * 1e3
    mine = median(ours) * 1e3
    return [
        Figure(
            "stop_guest",
            "graceful stop of the booted demo guest",
            "ms",
            base,
            mine,
            f"< {TARGET_RATIO:g}x",
            mine < TARGET_RATIO * base,
            baseline_what="bare qemu: quit + (system_powerdown -> exit)",
            details={
                "ours_ms": summary(ours, 1e3),
                "quit_ms": summary(quits, 1e3),
                "powerdown_ms": summary(powerdown, 1e3),
            },
        )
    ]
