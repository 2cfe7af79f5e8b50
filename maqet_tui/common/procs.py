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
    """`pid`'s argv, or [] when it is gone or unreadable."""
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


# -- process groups: QEMU runs as the leader of its own group, so a `binary:` that wraps QEMU (a
# script running it as a child) cannot hide the real QEMU from a kill.
STATE_NAMES = {
    "R": "running",
    "S": "sleeping",
    "D": "in uninterruptible IO",
    "T": "stopped by a signal",
    "t": "stopped by a debugger",
    "Z": "exited (zombie)",
    "X": "dead",
    "I": "idle",
}


def process_state(pid: int) -> str:
    """What `pid` is doing per /proc/PID/stat, in words: "stopped by a signal" for a SIGSTOPped
    process, "in uninterruptible IO" for one stuck in the kernel, "gone" if it does not exist."""
    f = _stat_fields(pid)
    if f is None:
        return "gone"
    return STATE_NAMES.get(f[0], f"state {f[0]}")


def group_members(pgid: int) -> list[int]:
    """Processes (zombies excluded) whose process group is `pgid` (field 5 of /proc/PID/stat)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        f = _stat_fields(int(entry))
        if f is not None and f[0] not in ("Z", "X") and f[2] == str(pgid):
            members.append(int(entry))
    return members


def kill_group_if_tagged(pgid: int | None, marker: str) -> bool:
    """SIGKILL process group `pgid` only if one of its live members has `marker` in its argv (the
    VM's identity tag, which QEMU and any wrapper around it carry). True if the group was signalled.
    """
    if not pgid or pgid <= 1 or pgid == os.getpgrp():
        return False
    if not any(marker in a for pid in group_members(pgid) for a in cmdline(pid)):
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Block until no live process is left in group `pgid`; True if that happened within `timeout`.

    Each wait is on a member's pidfd, so it is woken by the exit itself rather than by polling.
    """
    if pgid <= 1:
        return True  # 0 would mean our own group: never a QEMU's
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True  # nobody in the group at all (zombies included): no scan needed
        except PermissionError:
            pass
        members = group_members(pgid)
        if not members:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        wait_gone(members[0], remaining)
