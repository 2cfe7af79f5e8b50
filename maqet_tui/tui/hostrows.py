"""Remote VMs as rows of the one table: keys that never collide, fields that never mislead.

A remote row is keyed `HOST:ID` (a local id stays as it is: 8 hex digits never contain ':'), and
carries `host` and `remote_id`. Its socket path and pids name things on another machine, so
they are moved aside (`remote_qemu_pid`, ...): nothing here may subscribe to, sample or read
/proc for them. While a host is lost its rows stay, with the status `unknown`: the VMs are not
known to have changed, only the view of them is gone.
"""

from __future__ import annotations

from typing import Any

VM = dict[str, Any]
SEP = ":"
UNKNOWN = "unknown"
MOVED = ("socket_path", "qemu_pid", "runner_pid")


def row_id(host: str, vm_id: str) -> str:
    """The id a VM of another host has in the table: unique across hosts."""
    return f"{host}{SEP}{vm_id}"


def remote_row(host: str, row: VM) -> VM:
    vm = {**row, "id": row_id(host, row["id"]), "host": host, "remote_id": row["id"]}
    for key in MOVED:
        vm[f"remote_{key}"] = vm.pop(key, None)
        vm[key] = None
    return vm


def host_of(vm: VM | None) -> str | None:
    """The host of a remote row, None for a local one."""
    return None if vm is None else vm.get("host")


def ident(vm: VM) -> str:
    """The id the VM's own host knows it by."""
    return str(vm.get("remote_id") or vm["id"])


def lost(rows: dict[str, VM]) -> dict[str, VM]:
    return {i: {**vm, "status": UNKNOWN} for i, vm in rows.items()}


def down_line(host: str, why: str, retry_in: float) -> str:
    """`lab2 — unreachable: <ssh's reason>, retrying in 4 s`."""
    reason = why.split(": ", 1)[1] if why.startswith("host ") and ": " in why else why
    return f"{host} — unreachable: {reason}, retrying in {max(0, round(retry_in))} s"
