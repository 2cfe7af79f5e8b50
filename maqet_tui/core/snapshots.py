"""Internal qcow2 snapshots: through QMP while the VM runs (savevm/loadvm/delvm, which snapshot
RAM and every disk together), through `qemu-img snapshot` while it is stopped (disks only).

Listing always reads the images (`qemu-img info -U` shares the image with a running QEMU), so the
same command works in both states.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, MaqetError, StateError
from maqet_tui.common.vmstate import QEMU_UP, STARTABLE
from maqet_tui.core.disks import image_info, snapshot_offline
from maqet_tui.core.manager import Manager

TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ONLINE = {"create": "savevm", "revert": "loadvm", "delete": "delvm"}


def _qcow2_disks(vm: dict[str, Any]) -> list[Path]:
    disks = vm["config"].get("disks") or []
    raw = [d["file"] for d in disks if d["format"] != "qcow2" and d["media"] == "disk"]
    if raw:
        raise StateError(
            f"VM {vm['name']!r} has raw disks ({', '.join(raw)}): "
            "snapshots need every disk to be qcow2"
        )
    found = [Path(d["file"]) for d in disks if d["format"] == "qcow2"]
    if not found:
        raise StateError(f"VM {vm['name']!r} has no qcow2 disk to hold snapshots")
    return found


def list_snapshots(manager: Manager, ident: str) -> list[dict[str, Any]]:
    vm = manager.get(ident)
    by_tag: dict[str, dict[str, Any]] = {}
    for disk in _qcow2_disks(vm):
        for snap in image_info(disk).get("snapshots", []):
            entry = by_tag.setdefault(
                snap["name"],
                {
                    "tag": snap["name"],
                    "vm_state_size": snap.get("vm-state-size", 0),
                    "date": snap.get("date-sec"),
                    "vm_clock_ns": snap.get("vm-clock-nsec", 0),
                    "disks": [],
                },
            )
            entry["disks"].append(str(disk))
    return list(by_tag.values())  # the image's own order: creation order


def snapshot(manager: Manager, ident: str, action: str, tag: str) -> dict[str, Any]:
    """create/revert/delete `tag`; returns the VM's snapshot list afterwards."""
    if action not in ONLINE:
        raise ConfigError(f"unknown snapshot action {action!r} (create, revert, delete)")
    if not isinstance(tag, str) or not TAG_RE.match(tag):
        raise ConfigError(f"invalid snapshot tag {tag!r}: letters, digits, '.', '_', '-'")
    vm = manager.get(ident)
    disks = _qcow2_disks(vm)
    snaps = {s["tag"]: s for s in list_snapshots(manager, ident)}
    existing = set(snaps)
    if action == "create" and tag in existing:
        raise StateError(f"snapshot {tag!r} already exists on {vm['name']!r}")
    if action != "create" and tag not in existing:
        raise StateError(f"no snapshot {tag!r} on {vm['name']!r}")
    live = vm["status"] in QEMU_UP
    if live and action == "revert" and not snaps[tag]["vm_state_size"]:
        # loadvm of a disk-only snapshot fails inside QEMU and leaves the VM paused.
        raise StateError(
            f"snapshot {tag!r} of {vm['name']!r} holds disks only (taken while "
            "stopped): stop the VM to revert to it"
        )
    if live:
        # HMP reports failure as text, not as a QMP error: anything printed means it failed.
        out = manager.qmp(
            ident, "human-monitor-command", {"command-line": f"{ONLINE[action]} {tag}"}, timeout=600
        )
        if isinstance(out, str) and out.strip():
            raise MaqetError(
                f"{ONLINE[action]} {tag} on {vm['name']!r}: {out.strip().splitlines()[-1]}"
            )
    elif vm["status"] in STARTABLE:
        for disk in disks:
            snapshot_offline(action, disk, tag)
    else:
        raise StateError(f"VM {vm['name']!r} is {vm['status']}; try again when it settles")
    return {"vm": vm["name"], "snapshots": list_snapshots(manager, ident)}


def screendump(manager: Manager, ident: str, path: Path) -> Path:
    """A PNG of the VM's display (needs a display device, e.g. `--qemu-arg=-vga --qemu-arg=std`)."""
    target = path.expanduser().absolute()
    if not target.parent.is_dir():
        raise ConfigError(f"directory {str(target.parent)!r} does not exist")
    try:
        manager.qmp(ident, "screendump", {"filename": str(target), "format": "png"})
    except MaqetError as exc:
        if "no console" in str(exc).lower():
            raise StateError(
                f"VM {ident!r} has no display device to take a screendump of "
                "(add one, e.g. -vga std)"
            ) from None
        raise
    return target
