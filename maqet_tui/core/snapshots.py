"""Internal qcow2 snapshots: through QMP jobs while the VM runs (snapshot-save/-load/-delete, which
snapshot RAM and every writable disk together), through `qemu-img snapshot` while it is stopped
(disks only).

A job's failure is QEMU's own structured error (query-jobs), reported as is; the job is dismissed
whatever its outcome.

Listing always reads the images (`qemu-img info -U` shares the image with a running QEMU), so the
same command works in both states.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, MaqetError, StateError, TimeoutError_
from maqet_tui.common.vmstate import QEMU_UP, STARTABLE
from maqet_tui.core.disks import image_info, snapshot_offline
from maqet_tui.core.manager import Manager
from maqet_tui.protocol import wire as proto

TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ONLINE = {"create": "snapshot-save", "revert": "snapshot-load", "delete": "snapshot-delete"}
JOB_TIMEOUT = proto.QMP_TIMEOUT_MAX  # a live save of a large guest takes minutes
JOB_POLL = 0.05  # seconds between query-jobs while a snapshot job runs


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


def snapshot_entry(snap: dict[str, Any]) -> dict[str, Any]:
    """One snapshot as `qemu-img info --output=json` lists it, in our terms. The guest clock
    comes in two fields (whole seconds, and the nanoseconds past them)."""
    clock = int(snap.get("vm-clock-sec", 0)) * 1_000_000_000 + int(snap.get("vm-clock-nsec", 0))
    return {
        "tag": snap["name"],
        "vm_state_size": snap.get("vm-state-size", 0),
        "date": snap.get("date-sec"),
        "vm_clock_ns": clock,
        "disks": [],
    }


def list_snapshots(manager: Manager, ident: str) -> list[dict[str, Any]]:
    """Every snapshot tag of the VM's qcow2 disks, in creation order, with the disks holding it."""
    vm = manager.get(ident)
    by_tag: dict[str, dict[str, Any]] = {}
    for disk in _qcow2_disks(vm):
        for snap in image_info(disk).get("snapshots", []):
            entry = by_tag.setdefault(snap["name"], snapshot_entry(snap))
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
        error = _run_job(manager, ident, action, tag, disks)
        if error:
            raise MaqetError(f"cannot {action} snapshot {tag!r} of {vm['name']!r}: {error}")
    elif vm["status"] in STARTABLE:
        for disk in disks:
            snapshot_offline(action, disk, tag)
    else:
        raise StateError(f"VM {vm['name']!r} is {vm['status']}; try again when it settles")
    return {"vm": vm["name"], "snapshots": list_snapshots(manager, ident)}


def _nodes(manager: Manager, ident: str, disks: list[Path]) -> tuple[str, list[str]]:
    """(vmstate node, every writable disk's node) from query-block. Every writable disk is
    listed, as HMP savevm did: one that cannot hold a snapshot fails the job in QEMU's words
    rather than being left out of it."""
    inserted = [
        b["inserted"]
        for b in manager.qmp(ident, "query-block") or []
        if isinstance(b, dict) and isinstance(b.get("inserted"), dict)
    ]
    writable = [i for i in inserted if not i.get("ro") and i.get("node-name")]
    qcow2 = {str(i.get("file")): str(i["node-name"]) for i in writable if i.get("drv") == "qcow2"}
    vmstate = next((qcow2[str(d)] for d in disks if str(d) in qcow2), None)
    if vmstate is None:
        vmstate = next(iter(qcow2.values()), None)
    if vmstate is None:
        raise StateError("QEMU has no writable qcow2 disk of this VM to hold the snapshot")
    return vmstate, [str(i["node-name"]) for i in writable]


def _run_job(manager: Manager, ident: str, action: str, tag: str, disks: list[Path]) -> str | None:
    """Run one snapshot job to its end; QEMU's error text if it failed, else None."""
    vmstate, devices = _nodes(manager, ident, disks)
    job_id = f"maqet-snapshot-{secrets.token_hex(4)}"
    args: dict[str, Any] = {"job-id": job_id, "tag": tag, "devices": devices}
    if action != "delete":
        args["vmstate"] = vmstate
    manager.qmp(ident, ONLINE[action], args)
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        jobs = manager.qmp(ident, "query-jobs") or []
        job = next((j for j in jobs if isinstance(j, dict) and j.get("id") == job_id), None)
        if job is None:
            raise MaqetError(f"the {ONLINE[action]} job {job_id} vanished from QEMU")
        if job.get("status") in ("concluded", "null"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError_(
                f"the {ONLINE[action]} job {job_id} did not finish within {JOB_TIMEOUT:g} s "
                f"(status {job.get('status')}); it may still finish"
            )
        time.sleep(JOB_POLL)
    manager.qmp(ident, "job-dismiss", {"id": job_id})
    error = job.get("error")
    return str(error) if error else None


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
