"""Facts about a VM's state shared by the CLI, the TUI, the core, the store and the runner, without
importing the store (which loads peewee): the statuses a VM can be in, the named sets of them that
the code asks about, and how long a QEMU has been up.

`Status` is a `StrEnum`, so its members are plain strings in JSON and SQL, and a status read back
from either (a `str`) is found in the sets below.
"""

from __future__ import annotations

import enum
import time
from typing import Any


class Status(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    CRASHED = "crashed"


ALL: frozenset[Status] = frozenset(Status)
# A QEMU is up and answers QMP.
QEMU_UP: frozenset[Status] = frozenset({Status.RUNNING, Status.PAUSED})
# A runner is, or should be, there (starting it, serving its QEMU, or stopping it).
LIVE: frozenset[Status] = frozenset({Status.STARTING, *QEMU_UP, Status.STOPPING})
# Nothing runs: a start may begin, the definition may be edited.
STARTABLE: frozenset[Status] = frozenset({Status.STOPPED, Status.CRASHED})
# On the way up or down: wait for it to settle.
TRANSITIONAL: frozenset[Status] = LIVE - QEMU_UP
# Not on the way anywhere: either nothing runs or QEMU is up.
SETTLED: frozenset[Status] = ALL - TRANSITIONAL
# A runner reported ready and the row names it (it may be stopping since).
# What a runner finds in the store when someone asked it to stop (`stopped`: at once, no grace).
STOP_REQUESTED: frozenset[Status] = frozenset({Status.STOPPING, Status.STOPPED})


def fmt_uptime(vm: dict[str, Any], now: float | None = None) -> str:
    """H:MM:SS since the VM's QEMU came up, or '-' when it is not up."""
    started = vm.get("started_at")
    if not started or vm.get("status") not in QEMU_UP:
        return "-"
    secs = max(0, int((now if now is not None else time.time()) - started))
    h, rem = divmod(secs, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}"
