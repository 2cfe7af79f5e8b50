"""The qemu-img operations on disk images: create, inspect, snapshot a stopped VM's disks.

What a disk entry is and which QEMU options it becomes is in `disk_spec` (pure); this module runs
processes, so validation never imports it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import MaqetError
from maqet_tui.core.disk_spec import check_size


def _qemu_img(*args: str) -> str:
    exe = shutil.which("qemu-img")
    if exe is None:
        raise MaqetError("qemu-img not found (install the qemu-utils package)")
    # umask 077: an image qemu-img creates is the user's alone (0600), like everything we make.
    out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=600, umask=0o077)
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
        raise MaqetError(f"qemu-img {args[0]} failed: {lines[-1] if lines else out.returncode}")
    return out.stdout


def create_qcow2(path: Path, size: str, backing: Path | None = None) -> None:
    """Create a qcow2 image (and its directory); never overwrites an existing file."""
    create_disk(path, size, "qcow2", backing, make_parents=True)


def create_disk(
    path: Path, size: str, fmt: str, backing: Path | None = None, *, make_parents: bool = False
) -> None:
    """Create a qcow2 or raw (sparse) image; never overwrites an existing file. Its directory
    is made only when asked (`make_parents`), else it must exist."""
    if path.exists():
        raise MaqetError(f"disk {path} already exists; refusing to overwrite it")
    if make_parents:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise MaqetError(f"disk {path}: directory {path.parent} does not exist")
    args = ["create", "-q", "-f", fmt]
    if backing is not None:
        info = image_info(backing)
        args += ["-b", str(backing), "-F", str(info.get("format", "raw"))]
    _qemu_img(*args, str(path), check_size(size))


def image_info(path: Path) -> dict[str, Any]:
    """`qemu-img info` as JSON; `-U` lets us read an image a running QEMU has open."""
    info: dict[str, Any] = json.loads(_qemu_img("info", "-U", "--output=json", str(path)))
    return info


def snapshot_offline(action: str, path: Path, tag: str | None = None) -> None:
    flag = {"create": "-c", "revert": "-a", "delete": "-d"}[action]
    _qemu_img("snapshot", flag, str(tag), str(path))


def create_overlay(path: Path, backing: Path, fmt: str, size: str | None = None) -> None:
    """A qcow2 overlay of `backing` (read, never written: every write lands in the overlay);
    its size is the backing image's unless a larger `size` is given."""
    if path.exists():
        raise MaqetError(f"disk {path} already exists; refusing to overwrite it")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    args = ["create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(backing), str(path)]
    _qemu_img(*args, *([check_size(size)] if size is not None else []))
