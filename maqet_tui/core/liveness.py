"""Is a VM's runner alive? Answered from the process table, never from files.

A VM is declared dead only on positive proof: its runner's PID is gone, or that PID now belongs to
another process (another start time, or an argv that is not this VM's runner). A missing socket,
lock or directory proves nothing: they live on filesystems that other programs clean (logind
removes /run/user/UID at logout, /tmp is swept by age), and a runner outlives them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from maqet_tui.common.procs import cmdline, is_alive
from maqet_tui.common.vmstate import LIVE


def is_runner_of(pid: int, vm_id: str) -> bool:
    """Does `pid`'s argv say it is the runner of `vm_id` (`python -m runner --vm ID ...`)?"""
    argv = cmdline(pid)
    try:
        return argv[argv.index("--vm") + 1] == vm_id and "runner" in argv
    except (ValueError, IndexError):
        return False


def find_runner(vm_id: str) -> int | None:
    """A live runner process of `vm_id` found by scanning /proc (for a start whose starter died
    before the runner recorded itself): rare, so the scan's few milliseconds are fine."""
    me = os.getuid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != me:
                continue
        except OSError:
            continue
        pid = int(entry.name)
        if is_runner_of(pid, vm_id) and is_alive(pid):
            return pid
    return None


def runner_alive(row: Mapping[str, Any]) -> bool:
    """False only on proof that no runner serves the row (see the module docstring)."""
    if row["status"] not in LIVE:
        return False
    pid = row["runner_pid"]
    if pid is None:
        # A start in progress: its starter is alive, or the runner it spawned is (the starter
        # may have been killed after spawning; the runner will record itself).
        if row["status"] != "starting":
            return False
        owner = row.get("owner_pid")
        if owner is not None and is_alive(owner, row.get("owner_started")):
            return True
        return find_runner(row["id"]) is not None
    if not is_alive(pid, row["runner_started"]):
        return False
    return is_runner_of(pid, row["id"])
