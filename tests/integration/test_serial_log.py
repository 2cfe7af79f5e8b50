"""A real guest's console while its serial log cannot be written: still served, logged again later.

"Disk full" is made real by lowering the runner's RLIMIT_FSIZE (Python ignores SIGXFSZ, so a write
past the limit fails with EFBIG exactly as on a full disk, and only for the runner, not for this
test or for QEMU).
"""

from __future__ import annotations

import itertools
import os
import resource
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core import ipc_client
from maqet_tui.core.guest_image import READY_LINE
from maqet_tui.core.manager import Manager
from tests.helpers import ConsoleReader, wait_for
from tests.integration.test_guest import BOOT_DEADLINE

pytestmark = pytest.mark.guest
_count = itertools.count(1)


def _say(manager: Manager, console: ConsoleReader, word: str) -> str:
    """Make the guest print a fresh marker (computed by the guest, so the echoed command line
    cannot match it) and wait until a subscriber has it."""
    n = next(_count)
    manager.console_write("demo", f"echo {word}-$(({n}+1000))\n")
    marker = f"{word}-{n + 1000}"
    console.until(marker, 30)
    return marker


def _logged_again(manager: Manager, console: ConsoleReader, log: Path, word: str) -> str:
    """Keep the guest talking until one of its markers reaches the log (the runner retries the
    file on its own clock, every few seconds)."""

    def attempt() -> str | None:
        marker = _say(manager, console, word)
        return marker if log.exists() and marker in log.read_text(errors="replace") else None

    return wait_for(attempt, timeout=30, what=f"{log} to be written again", step=0.2)


def test_console_outlives_a_full_disk_and_a_removed_logs_directory(
    manager: Manager, demo: dict[str, Any]
) -> None:
    serial = manager.paths.serial_log(demo["id"])
    runner_log = manager.paths.runner_log(demo["id"])
    pid = demo["runner_pid"]
    with ipc_client.IPCClient(demo["socket_path"], timeout=10) as sub:
        sub.call("subscribe", {"topics": ["console"], "replay": True})
        console = ConsoleReader(sub)
        console.until(READY_LINE, BOOT_DEADLINE)
        console.until("# ", 30)

        # 1. The disk is full for the runner: no file of its may grow past the serial log.
        full = serial.stat().st_size
        assert runner_log.stat().st_size + 4096 < full  # room left for the one warning
        limits = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (full, limits[1]))
        # Output still on its way when the limit was set (a late prompt byte) may have landed
        # first; from here on nothing may.
        full = serial.stat().st_size
        try:
            unlogged = [_say(manager, console, "FULL") for _ in range(3)]
            assert serial.stat().st_size == full
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, limits)
        _logged_again(manager, console, serial, "BACK")
        text = serial.read_text(errors="replace")
        assert not any(m in text for m in unlogged) and "bytes were not logged here" in text
        warnings = [ln for ln in runner_log.read_text().splitlines() if "WARNING" in ln]
        assert len(warnings) == 1 and "serial log" in warnings[0], warnings

        # 2. The logs directory is removed: the runner makes a new one (0700) and logs there.
        shutil.rmtree(manager.paths.logs)
        _say(manager, console, "GONE")
        _logged_again(manager, console, serial, "ANEW")
        assert stat.S_IMODE(os.stat(manager.paths.logs).st_mode) == 0o700
        assert stat.S_IMODE(serial.stat().st_mode) == 0o600
    after = manager.stop("demo", timeout=60)
    assert after["status"] == "stopped" and after["last_error"] is None
