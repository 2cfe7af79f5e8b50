"""Port forwards of a VM, changed while it runs or while it is stopped.

On a running (or paused) VM a change goes to QEMU first (the HMP commands `hostfwd_add` and
`hostfwd_remove` on the netdev `maqet-net`, through QMP's `human-monitor-command`), then into
the definition, so the store never lists a forward QEMU refused and the next start has the same
forwards. On a stopped VM only the definition changes (the next start checks the port is free).
Only user-mode networks (`user`, `isolated`) have forwards.
"""

from __future__ import annotations

import json
from typing import Any

from maqet_tui.common.errors import ConfigError, MaqetError, NotFoundError, StateError
from maqet_tui.common.vmstate import LIVE, QEMU_UP
from maqet_tui.core import net_spec
from maqet_tui.core.config import VMConfig
from maqet_tui.core.manager import Manager
from maqet_tui.core.net_preflight import port_in_use
from maqet_tui.store import models as store


def list_forwards(manager: Manager, ident: str) -> list[dict[str, Any]]:
    forwards: list[dict[str, Any]] = manager.get(ident)["config"].get("forwards") or []
    return forwards


def _check_mode(vm: dict[str, Any]) -> None:
    net = vm["config"].get("net")
    if net not in net_spec.USER_MODES:
        raise StateError(
            f"VM {vm['name']!r} has network {net or 'none'}: only user-mode networks (user, "
            "isolated) have forwards"
        )


def _hmp(manager: Manager, vm: dict[str, Any], line: str) -> None:
    """One HMP command. HMP reports failure only as text: `hostfwd_add` says nothing when it
    worked, `hostfwd_remove` says "... removed" (or "... not found")."""
    out = manager.qmp(vm["id"], "human-monitor-command", {"command-line": line})
    text = str(out or "").strip()
    if text and not text.endswith(" removed"):
        raise MaqetError(f"VM {vm['name']!r}: QEMU refused {line.split()[0]}: {text}")


def _record(vm_id: str, change: Any) -> dict[str, Any]:
    """Apply `change` to the stored forwards whatever the VM's status (a running VM's definition
    is otherwise frozen: this is the one change QEMU made live)."""
    with store.immediate():
        row = store.find(vm_id)
        cfg = json.loads(row.config)
        cfg["forwards"] = change(list(cfg.get("forwards") or []))
        checked = VMConfig.from_dict(cfg, check_files=False).to_dict()
        store.update_vm(row.id, config=json.dumps(checked))
    return checked


def _live(vm: dict[str, Any]) -> bool:
    if vm["status"] in QEMU_UP:
        return True
    if vm["status"] in LIVE:
        raise StateError(f"VM {vm['name']!r} is {vm['status']}; try again in a moment")
    return False


def add_forward(manager: Manager, ident: str, spec: str) -> dict[str, Any]:
    """`PROTO:HOSTPORT:GUESTPORT`; returns the forward added."""
    entry = net_spec.parse_forward(spec)
    vm = manager.get(ident)
    _check_mode(vm)
    current = vm["config"].get("forwards") or []
    if any((f["proto"], f["host_port"]) == (entry["proto"], entry["host_port"]) for f in current):
        raise ConfigError(
            f"VM {vm['name']!r} already forwards {entry['proto']}:{entry['host_port']}"
        )
    if _live(vm):
        if port_in_use(entry["proto"], entry["host_port"]):
            raise StateError(
                f"{entry['proto']} {net_spec.HOST_ADDR}:{entry['host_port']} is in use by "
                f"another program; choose another host port for VM {vm['name']!r}"
            )
        _hmp(manager, vm, f"hostfwd_add {net_spec.NETDEV_ID} {net_spec.hostfwd(entry)}")
    _record(vm["id"], lambda fs: [*fs, entry])
    return entry


def remove_forward(manager: Manager, ident: str, key: str) -> dict[str, Any]:
    """`PROTO:HOSTPORT`; returns the forward removed."""
    proto, port = net_spec.parse_forward_key(key)
    vm = manager.get(ident)
    _check_mode(vm)
    current: list[dict[str, Any]] = vm["config"].get("forwards") or []
    entry = next((f for f in current if (f["proto"], f["host_port"]) == (proto, port)), None)
    if entry is None:
        raise NotFoundError(f"VM {vm['name']!r} has no forward {proto}:{port}")
    if _live(vm):
        rule = f"{proto}:{net_spec.HOST_ADDR}:{port}"
        _hmp(manager, vm, f"hostfwd_remove {net_spec.NETDEV_ID} {rule}")
    _record(vm["id"], lambda fs: [f for f in fs if (f["proto"], f["host_port"]) != (proto, port)])
    return entry
