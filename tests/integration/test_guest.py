"""A real Linux guest (the demo VM): boot, serial console in and out, ACPI power-down."""

from __future__ import annotations

import os
import pty
import select
import sys
import termios
import time
from typing import Any

import pytest

from maqet_tui.core import ipc_client
from maqet_tui.core.guest_image import READY_LINE
from maqet_tui.core.manager import Manager
from tests.helpers import ConsoleReader, Env, wait_for

pytestmark = pytest.mark.guest
BOOT_DEADLINE = 90.0  # ~5 s on an idle 2-core host; generous for a loaded CI


def test_demo_boots_talks_and_powers_off_through_acpi(
    manager: Manager, demo: dict[str, Any]
) -> None:
    with ipc_client.IPCClient(demo["socket_path"], timeout=10) as sub:
        sub.call("subscribe", {"topics": ["console"], "replay": True})
        console = ConsoleReader(sub)
        console.until(READY_LINE, BOOT_DEADLINE)
        console.until("# ", 30)  # the shell prompt
        manager.console_write("demo", "echo $((6*7))\n")
        console.until("\n42", 30)
    serial_log = manager.paths.serial_log(demo["id"]).read_text(errors="replace")
    assert READY_LINE in serial_log and "\n42" in serial_log
    after = manager.stop("demo", timeout=60)
    assert after["status"] == "stopped" and after["last_error"] is None
    shutdowns = [e for e in manager.events("demo") if e["name"] == "SHUTDOWN"]
    assert shutdowns and shutdowns[-1]["data"]["data"]["guest"] is True
    runner_log = manager.paths.runner_log(demo["id"]).read_text()
    assert "killing" not in runner_log and "ignored" not in runner_log


def test_guest_that_powers_itself_off_ends_stopped(manager: Manager, demo: dict[str, Any]) -> None:
    with ipc_client.IPCClient(demo["socket_path"], timeout=10) as sub:
        sub.call("subscribe", {"topics": ["console"], "replay": True})
        ConsoleReader(sub).until(READY_LINE, BOOT_DEADLINE)
    manager.console_write("demo", "poweroff -f\n")
    vm = wait_for(
        lambda: (v := manager.get("demo"))["status"] == "stopped" and v,
        timeout=30,
        what="the guest to power off",
    )
    assert vm["last_error"] is None


def test_console_cli_in_a_terminal(manager: Manager, demo: dict[str, Any], env: Env) -> None:
    """`maqet-tui console` in a real pty: replayed boot, typed command, Ctrl-] leaves, and the
    terminal modes are restored."""
    with ipc_client.IPCClient(demo["socket_path"], timeout=10) as sub:
        sub.call("subscribe", {"topics": ["console"], "replay": True})
        ConsoleReader(sub).until(READY_LINE, BOOT_DEADLINE)
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on the pty
        os.environ["MAQET_TUI_HOME"] = str(env.home)
        os.execv(sys.executable, [sys.executable, "-m", "maqet_tui", "console", "demo"])
    before = termios.tcgetattr(fd)
    seen = b""

    def read_until(marker: bytes, timeout: float = 30) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            if not r:
                raise AssertionError(f"no {marker!r} in {seen[-300:]!r}")
            seen += os.read(fd, 4096)

    try:
        read_until(READY_LINE.encode())  # the replayed tail of the boot
        wait_for(lambda: not termios.tcgetattr(fd)[3] & termios.ICANON, what="raw mode")
        os.write(fd, b"echo $((7*6))XY\r")
        read_until(b"42XY")
        os.write(fd, b"\x1d")
        read_until(b"left the console")
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        assert termios.tcgetattr(fd)[3] == before[3]  # local modes (ECHO, ICANON) restored
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert manager.get("demo")["status"] == "running"  # leaving the console leaves the VM be


def test_demo_guest_sees_its_own_disk(manager: Manager, demo: dict[str, Any]) -> None:
    """The demo comes with a qcow2 disk (for snapshots) and still boots with it attached."""
    [disk] = demo["config"]["disks"]
    assert disk["format"] == "qcow2" and disk["file"].startswith(str(manager.paths.home))
    with ipc_client.IPCClient(demo["socket_path"], timeout=10) as sub:
        sub.call("subscribe", {"topics": ["console"], "replay": True})
        console = ConsoleReader(sub)
        console.until(READY_LINE, BOOT_DEADLINE)
        # The marker is computed by the guest, so the echoed command line cannot match it.
        manager.console_write("demo", "cat /sys/block/vda/size && echo DISK-$((40+2))\n")
        text = console.until("DISK-42", 30)
    assert "131072" in text  # 64 MiB in 512-byte sectors
