"""The ready-made demo VM: a real Linux guest a newcomer can boot on the first run.

Its kernel and initramfs are built once into a cache (see guest_image) and the VM is pinned to TCG:
on hosts where KVM is nested through PVM, /dev/kvm exists yet hangs Linux guests. It has a small
qcow2 disk (sparse, in its data directory) so that a newcomer can try snapshots on it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import NotFoundError, StateError
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.definitions import add_with_disks
from maqet_tui.core.disks import create_qcow2
from maqet_tui.core.guest_image import (
    KERNEL_APPEND,
    GuestImage,
    Progress,
    default_cache_dir,
    ensure_guest,
)
from maqet_tui.core.manager import Manager
from maqet_tui.core.peer_yaml import NewDisk

DEMO_NAME = "demo"
# Room for snapshots (RAM state included); qcow2 grows only as it is written.
DEMO_DISK = NewDisk("disk0", "64M", None, None, "virtio", "disk")


def cache_dir(manager: Manager) -> Path:
    """The shared per-user guest cache, whatever the home (a guest is not per home data)."""
    return default_cache_dir()


def demo_config(image: GuestImage) -> dict[str, Any]:
    return {
        "memory": 128,
        "cpus": 1,
        "accel": "tcg",
        "kernel": str(image.kernel),
        "initrd": str(image.initrd),
        "append": KERNEL_APPEND,
    }


def ensure_demo(
    manager: Manager, progress: Progress | None = None, name: str = DEMO_NAME
) -> tuple[dict[str, Any], bool]:
    """Build the guest if needed and define the demo VM; (vm, created).

    An existing demo VM is pointed at the fresh artefacts when it is stopped (the cache may have
    been rebuilt elsewhere), and given its disk if it was made before demos had one; a running
    one is left alone.
    """
    image = ensure_guest(cache_dir(manager), progress)
    config = demo_config(image)
    try:
        vm = manager.get(name)
    except NotFoundError:
        return add_with_disks(manager, name, config, [DEMO_DISK]), True
    if vm["status"] in LIVE:
        return vm, False
    if not vm["config"].get("disks"):
        disk = manager.paths.vm_dir(vm["id"]) / f"{DEMO_DISK.name}.qcow2"
        if not disk.exists():
            create_qcow2(disk, DEMO_DISK.size)
        entry = {"file": str(disk), "format": "qcow2", "interface": "virtio", "media": "disk"}
        config = {**config, "disks": [entry]}
    if vm["config"] != {**vm["config"], **config}:
        with contextlib.suppress(StateError):  # started meanwhile: left alone
            vm = manager.set_config(name, config)
    return vm, False
