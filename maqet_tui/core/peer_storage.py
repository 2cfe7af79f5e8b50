"""The peer tool's `storage` entries into our disks and shares, checked as the user wrote them:
every message names the entry by its place and name in the file (`storage[1] (name: cdrom).file`),
never by our internal lists. Pure apart from looking at files: nothing is created here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, clip, key_list
from maqet_tui.common.sizes import disk_bytes
from maqet_tui.core.disk_spec import normalize_disk, normalize_share, storage_name

STORAGE_TYPES = ("qcow2", "raw", "virtfs")
DISK_COMMON = {"name", "type", "file", "size", "interface", "media"}
STORAGE_KEYS = {
    "qcow2": DISK_COMMON | {"backing_file"},
    "raw": DISK_COMMON,
    "virtfs": {"name", "type", "path", "mount_tag", "security_model", "readonly"},
}


@dataclass(frozen=True)
class NewDisk:
    """A disk the definition asks for that does not exist yet (created after `add`)."""

    name: str
    size: str
    file: str | None  # None: inside the VM's data directory
    backing_file: str | None
    interface: str
    media: str
    slot: int | None = None  # position among the VM's disks (None: after the others)
    format: str = "qcow2"
    make_parents: bool = False  # its directory is missing but inside the user's home


def _fail(where: str, text: str) -> ConfigError:
    return ConfigError(f"{where}{text}", field="storage")


def _placement(where: str, file: str) -> bool:
    """May a missing disk be created at `file`? Where its directory exists, or inside the home
    (then the directories are made too): never a directory tree anywhere on the filesystem."""
    parent = Path(file).parent
    if parent.is_dir():
        return False
    home = Path.home().resolve()
    if Path(os.path.normpath(parent)).is_relative_to(home):
        return True
    raise _fail(
        where,
        f".file: directory {clip(str(parent))} does not exist (create it, or use a path "
        "inside your home)",
    )


def storage(entries: Any, cfg: dict[str, Any]) -> list[NewDisk]:
    """Add `entries`' disks and shares to `cfg`; return the disks to create."""
    if not isinstance(entries, list):
        raise ConfigError("storage: expected a list", field="storage")
    new: list[NewDisk] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"storage[{i}]"
        if not isinstance(entry, dict):
            raise _fail(where, f": expected a mapping, got {clip(entry)}")
        if "name" not in entry:
            raise _fail(where, ": every entry needs a name")
        name = storage_name(f"{where}.name", entry["name"])
        where = f"{where} (name: {name})"
        if name in seen:
            raise _fail(where, ": another entry has this name")
        seen.add(name)
        kind = entry.get("type")
        if kind is None:
            raise _fail(where, f".type: missing (one of {', '.join(STORAGE_TYPES)})")
        if kind not in STORAGE_TYPES:
            raise _fail(where, f".type: {clip(kind)} is not one of {', '.join(STORAGE_TYPES)}")
        unknown = set(entry) - STORAGE_KEYS[kind]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise _fail(where, f": unsupported key{plural} for {kind}: {key_list(unknown)}")
        if kind == "virtfs":
            share = {k: v for k, v in entry.items() if k != "type"}
            cfg.setdefault("shares", []).append(normalize_share(where, share, None, True))
            continue
        new_disk = _disk(where, entry, kind, slot=len(cfg.get("disks", [])) + len(new))
        if new_disk is not None:
            new.append(new_disk)
        else:
            disk = {k: entry[k] for k in ("name", "file", "interface", "media") if k in entry}
            cfg.setdefault("disks", []).append(
                normalize_disk(where, {**disk, "format": kind}, None, True)
            )
    return new


def _disk(where: str, entry: dict[str, Any], kind: str, slot: int) -> NewDisk | None:
    """The disk to create for `entry`, or None when its file exists (then `size`, if given,
    must be the file's size for raw; a qcow2's virtual size is its own business)."""
    file = entry.get("file")
    if kind == "raw" and file is None:
        raise _fail(where, ".file: a raw disk needs a file")
    # the same checks as a stored disk gets (a path, no comma), the file itself may be missing
    probe: dict[str, Any] = {k: entry[k] for k in ("name", "interface", "media") if k in entry}
    normalize_disk(where, {**probe, "file": file or "/new", "format": kind}, None, False)
    size = entry.get("size")
    if size is not None:
        disk_bytes(size, f"{where}.size")
    backing = entry.get("backing_file")
    if file is not None and Path(file).is_file():
        if backing:
            raise _fail(where, ".backing_file: only for a disk that is created")
        if kind == "raw" and size is not None:
            actual = Path(file).stat().st_size
            if disk_bytes(size, f"{where}.size") != actual:
                raise _fail(
                    where, f".size: {clip(size)} is not the size of {clip(file)} ({actual} bytes)"
                )
        return None
    if size is None:
        if file is None:
            raise _fail(where, f": a new {kind} disk needs a size")
        raise _fail(
            where, f".file: {clip(file)} does not exist (give a size to create it, as {kind})"
        )
    if backing is not None and not Path(backing).is_file():
        raise _fail(where, f".backing_file: file {clip(backing)} does not exist")
    return NewDisk(
        entry["name"],
        str(size),
        file,
        backing,
        entry.get("interface", "virtio"),
        entry.get("media", "disk"),
        slot=slot,
        format=kind,
        make_parents=_placement(where, file) if file is not None else False,
    )
