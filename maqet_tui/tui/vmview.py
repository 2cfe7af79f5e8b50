"""What the screen shows about a VM, as plain functions of its row (no Textual, easy to test).

Keeping the status → allowed-actions table here means the footer (check_action), the command
palette and the bulk actions on marked VMs all agree on what is possible.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Mapping
from typing import Any

from maqet_tui.common import procs
from maqet_tui.common.vmstate import LIVE, QEMU_UP, SETTLED, STARTABLE, Status
from maqet_tui.common.vmstate import fmt_uptime as fmt_uptime
from maqet_tui.core.config import VMConfig, build_argv
from maqet_tui.core.net_spec import USER_MODES, ssh_forward

VM = dict[str, Any]

# action name → statuses in which it makes sense. "stop" on a paused VM works (QEMU quits).
ALLOWED: dict[str, frozenset[str]] = {
    "start": STARTABLE,
    "stop": QEMU_UP,
    "force_stop": LIVE,
    "pause": frozenset({Status.RUNNING}),
    "resume": frozenset({Status.PAUSED}),
    "reset": QEMU_UP,
    "delete": SETTLED,
    "edit": STARTABLE,
}

# Palette titles, in the order a user expects to see them.
ACTION_TITLES: dict[str, str] = {
    "start": "Start",
    "stop": "Stop",
    "force_stop": "Force stop",
    "pause": "Pause",
    "resume": "Resume",
    "reset": "Reset",
    "edit": "Edit",
    "delete": "Delete",
}

STATUS_STYLE: dict[str, str] = {
    "running": "bold green",
    "paused": "bold yellow",
    "starting": "cyan",
    "stopping": "cyan",
    "stopped": "dim",
    "crashed": "bold red",
    "unknown": "dim italic",  # a remote VM whose host is out of reach (hostrows.py)
}


def ssh_port(vm: VM) -> int | None:
    """The host port of the VM's SSH forward (127.0.0.1), when its network has one."""
    cfg = vm.get("config") or {}
    if cfg.get("net") not in USER_MODES:
        return None
    fwd = ssh_forward(cfg.get("forwards") or [])
    return int(fwd["host_port"]) if fwd else None


def guest_ip(guest: Mapping[str, Any] | None) -> str | None:
    """The first address the guest agent reports (IPv4 first, as the runner orders them)."""
    ips = (guest or {}).get("ips") or []
    return str(ips[0]) if guest and guest.get("agent") and ips else None


def allowed(action: str, status: str | None) -> bool:
    return status is not None and status in ALLOWED.get(action, frozenset())


def is_live(vm: VM) -> bool:
    return vm.get("status") in LIVE


def fmt_mib(mib: int | float) -> str:
    return f"{mib / 1024:.1f}G" if mib >= 1024 else f"{int(mib)}M"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    return fmt_mib(n / (1024 * 1024))


def fmt_cpu(pct: float | None) -> str:
    return "-" if pct is None else f"{pct:.0f}%"


def fmt_time(ts: float) -> str:
    lt = time.localtime(ts)
    return time.strftime("%H:%M:%S", lt) + f".{int((ts % 1) * 1000):03d}"


def matches(vm: VM, text: str) -> bool:
    """The `/` filter: every word must appear in the name, the status, the id or the host."""
    hay = f"{vm.get('name', '')} {vm.get('status', '')} {vm.get('id', '')} {vm.get('host', '')}"
    hay = hay.lower()
    return all(word in hay for word in text.lower().split())


def natural_key(vm: VM) -> tuple[tuple[int, int | str], ...]:
    """Sort key by name with digit runs as numbers: vm2 before vm10, case ignored."""
    parts = re.split(r"(\d+)", str(vm.get("name", "")).lower())
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts if p)


def command_line(vm: VM) -> tuple[str, bool]:
    """(QEMU argv as a shell line, whether it is the live process's own).

    A running VM's argv is read from /proc so it is exactly what runs; otherwise it is built from
    the definition with placeholder fds, which is what the runner would run.
    """
    pid = vm.get("qemu_pid")
    if pid and vm.get("status") in LIVE:
        argv = procs.cmdline(int(pid))
        if argv:
            return shlex.join(argv), True
    try:
        cfg = VMConfig.from_dict(vm.get("config") or {}, check_files=False)
    except Exception as exc:  # a definition that no longer validates: say so, never crash
        return f"(definition does not validate: {exc})", False
    return shlex.join(build_argv(str(vm["id"]), str(vm["name"]), cfg, 3, 4, 5)), False


def event_text(ev: dict[str, Any]) -> str:
    """One event as a line: `status running` or `qmp STOP {...}`."""
    data = ev.get("data") or {}
    if ev.get("kind") == "status":
        err = data.get("last_error")
        return f"status → {ev.get('name')}" + (f"  ({err})" if err else "")
    inner = data.get("data") if isinstance(data, dict) else None
    return f"qmp {ev.get('name')}" + (f" {json.dumps(inner)}" if inner else "")
