"""Process identity and liveness from /proc, without psutil (it costs ~25 ms to import on the CLI).

A PID alone is not an identity: after a reboot or a long uptime it may belong to an unrelated
process. We pair it with the kernel's start time (field 22 of /proc/PID/stat) and never signal a
process whose start time does not match the one recorded.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may contain spaces and parentheses; everything after the last ')' is regular.
    rest = raw[raw.rfind(")") + 2 :].split()
    return rest  # rest[0] is field 3 (state)


def start_time(pid: int) -> int | None:
    """Kernel start time of `pid` in clock ticks since boot, or None if it is gone or a zombie."""
    f = _stat_fields(pid)
    if f is None or f[0] in ("Z", "X"):
        return None
    return int(f[19])


def is_alive(pid: int | None, started: int | None = None) -> bool:
    """True if `pid` runs and, when `started` is given, is the same process we recorded."""
    if not pid or pid <= 0:
        return False
    st = start_time(pid)
    if st is None:
        return False
    return started is None or st == started


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def wait_gone(pid: int, timeout: float, started: int | None = None) -> bool:
    """Block until `pid` has exited (zombies count as exited); True if it did within `timeout`.

    Uses a pidfd so the wait is woken by the exit itself rather than by polling.
    """
    if not is_alive(pid, started):
        return True
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return not is_alive(pid, started)
    try:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return not is_alive(pid, started)
            r, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if r or not is_alive(pid, started):
                return True
    finally:
        os.close(fd)


def signal_if_same(pid: int | None, started: int | None, sig: int = signal.SIGKILL) -> bool:
    """Send `sig` only if `pid` is still the process started at `started`."""
    if not pid or started is None or not is_alive(pid, started):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
        return True
    return False


def signal_if_cmdline(pid: int | None, marker: str, sig: int = signal.SIGKILL) -> bool:
    """Send `sig` only if `pid`'s argv carries `marker` (used for QEMU, whose start time we don't
    record: its argv names the VM it belongs to)."""
    if not pid or not is_alive(pid):
        return False
    if not any(marker in a for a in cmdline(pid)):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
        return True
    return False
