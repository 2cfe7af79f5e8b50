"""Facts about a VM's state shared by the CLI, the TUI and the runner, without importing the store
(which loads peewee): which statuses have a QEMU up, and how long it has been up."""

from __future__ import annotations

import time
from typing import Any

RUNNING = ("running", "paused")  # a QEMU is up and answers QMP


def fmt_uptime(vm: dict[str, Any], now: float | None = None) -> str:
    started = vm.get("started_at")
    if not started or vm.get("status") not in RUNNING:
        return "-"
    secs = max(0, int((now if now is not None else time.time()) - started))
    h, rem = divmod(secs, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}"
