"""Disk and share entries of a VM definition and their QEMU options: pure, no process is run here
(the qemu-img operations are in `disks`), so validating a definition starts nothing.

A disk is `{"file", "format", "interface", "media"}` (a bare path is shorthand for a virtio disk
whose format follows the extension); a share is a virtfs export of a host directory. Either may
carry a `name` (the handle the peer tool's `storage` entries have), unique within the VM.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, clip, key_list, top_field
from maqet_tui.common.ids import NAME_RE
from maqet_tui.common.sizes import disk_bytes

FORMATS = ("qcow2", "raw")
INTERFACES = ("virtio", "ide", "sata", "scsi", "none")
MEDIA = ("disk", "cdrom")
SECURITY_MODELS = ("mapped-xattr", "mapped-file", "passthrough", "none")
DISK_KEYS = {"name", "file", "format", "interface", "media"}
SHARE_KEYS = {"name", "path", "mount_tag", "security_model", "readonly"}
TAG_RE = re.compile(r"^[A-Za-z0-9_.-]{1,31}$")
SCSI_CONTROLLER = ["-device", "virtio-scsi-pci,id=maqet-scsi"]


def storage_name(key: str, value: object) -> str:
    """A disk's or share's name: also the file name of a disk created for it, so no path."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ConfigError(
            f"{key}: {clip(value)} is not a name (1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit)",
            field=top_field(key),
        )
    return value


def _named(key: str, entry: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    if "name" in entry:
        return {"name": storage_name(f"{key}.name", entry["name"]), **out}
    return out


def absolute_path(key: str, text: str, base: Path | None) -> Path:
    """`text` as an absolute, normalised path (relative to `base`, else the working directory).
    QEMU's option syntax splits on commas, so a path with one is refused rather than escaped."""
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    p = Path(os.path.normpath(p))
    if "," in str(p):
        raise ConfigError(
            f"{key}: path {clip(str(p))} must not contain a comma", field=top_field(key)
        )
    return p


def _check_path(key: str, value: object, base: Path | None, must_exist: bool, kind: str) -> str:
    if not isinstance(value, str) or not value or "\0" in value or "\n" in value:
        raise ConfigError(f"{key}: expected a path", field=top_field(key))
    if value.startswith("-"):
        raise ConfigError(f"{key}: {clip(value)} must not start with '-'", field=top_field(key))
    p = absolute_path(key, value, base)
    if must_exist:
        require_existing(key, p, kind)
    return str(p)


def require_existing(key: str, p: Path, kind: str) -> None:
    """`p` is an existing file (or directory); a name too long or a directory we may not search
    is reported as such rather than escaping as an OSError."""
    try:
        found = p.is_dir() if kind == "dir" else p.is_file()
    except OSError as exc:
        raise ConfigError(
            f"{key}: cannot use {clip(str(p))}: {exc.strerror}", field=top_field(key)
        ) from None
    if not found:
        what = "directory" if kind == "dir" else "file"
        raise ConfigError(f"{key}: {what} {clip(str(p))} does not exist", field=top_field(key))


def _refuse_unknown(key: str, entry: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(entry) - allowed
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(f"{key}: unknown key{plural} {key_list(unknown)}", field=top_field(key))


def _one_of(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(
            f"{key}: {clip(value)} is not one of {', '.join(choices)}", field=top_field(key)
        )
    return str(value)


def normalize_disk(key: str, entry: object, base: Path | None, check: bool) -> dict[str, Any]:
    if isinstance(entry, str):
        entry = {"file": entry}
    if not isinstance(entry, dict):
        raise ConfigError(
            f"{key}: expected a path or a mapping, got {type(entry).__name__}", field=top_field(key)
        )
    _refuse_unknown(key, entry, DISK_KEYS)
    file = _check_path(f"{key}.file", entry.get("file"), base, check, "file")
    default_fmt = "qcow2" if file.endswith(".qcow2") else "raw"
    return _named(
        key,
        entry,
        {
            "file": file,
            "format": _one_of(f"{key}.format", entry.get("format") or default_fmt, FORMATS),
            "interface": _one_of(
                f"{key}.interface", entry.get("interface") or "virtio", INTERFACES
            ),
            "media": _one_of(f"{key}.media", entry.get("media") or "disk", MEDIA),
        },
    )


def normalize_share(key: str, entry: object, base: Path | None, check: bool) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(
            f"{key}: expected a mapping, got {type(entry).__name__}", field=top_field(key)
        )
    _refuse_unknown(key, entry, SHARE_KEYS)
    path = _check_path(f"{key}.path", entry.get("path"), base, check, "dir")
    tag = entry.get("mount_tag")
    if not isinstance(tag, str) or not TAG_RE.match(tag):
        raise ConfigError(
            f"{key}.mount_tag: expected 1-31 letters, digits, '.', '_' or '-'", field=top_field(key)
        )
    model = _one_of(
        f"{key}.security_model", entry.get("security_model") or "mapped-xattr", SECURITY_MODELS
    )
    readonly = entry.get("readonly", False)
    if not isinstance(readonly, bool):
        raise ConfigError(f"{key}.readonly: expected true or false", field=top_field(key))
    share = {"path": path, "mount_tag": tag, "security_model": model, "readonly": readonly}
    return _named(key, entry, share)


def disk_args(disk: dict[str, Any], index: int = 0) -> list[str]:
    """A disk's options; a scsi disk goes on the controller SCSI_CONTROLLER adds (QEMU's
    `if=scsi` needs a machine that makes one itself, which q35 does not)."""
    if disk["interface"] == "scsi":
        drive = f"maqet-disk{index}"
        device = "scsi-cd" if disk["media"] == "cdrom" else "scsi-hd"
        opts = f"file={disk['file']},format={disk['format']},if=none,id={drive}"
        if disk["media"] == "cdrom":
            opts += ",media=cdrom"
        return ["-drive", opts, "-device", f"{device},drive={drive},bus=maqet-scsi.0"]
    interface = "ide" if disk["interface"] == "sata" else disk["interface"]
    opts = f"file={disk['file']},format={disk['format']},if={interface}"
    if disk["media"] == "cdrom":
        opts += ",media=cdrom"
    return ["-drive", opts]


def share_args(share: dict[str, Any], index: int) -> list[str]:
    opts = (
        f"local,path={share['path']},mount_tag={share['mount_tag']},"
        f"security_model={share['security_model']},id=maqet-fs{index}"
    )
    if share["readonly"]:
        opts += ",readonly=on"
    return ["-virtfs", opts]


def check_size(size: object) -> str:
    """A new disk's size as qemu-img is given it: a number of bytes (a bare number is bytes)."""
    return str(disk_bytes(size, "size"))
