"""`add NAME --image IMAGE`: a VM whose disk is a qcow2 overlay of an image, with a NoCloud seed
that names it and trusts an SSH key, and user-mode networking with an SSH forward.

The image is never written: the overlay `HOME/vms/ID/root.qcow2` takes every write, and
`rm --delete-disks` removes it and the seed, never the image. The kernel, initrd and command line
come from the image (an image without them boots through firmware). All or nothing: if the overlay
or the seed cannot be made, the VM is not defined.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, MaqetError
from maqet_tui.common.paths import Paths
from maqet_tui.common.sizes import disk_bytes
from maqet_tui.core import net_spec, seed, ssh_keys
from maqet_tui.core.config import VMConfig, validate_name
from maqet_tui.core.disks import create_overlay
from maqet_tui.core.images import Image, get_image
from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store

OVERLAY = "root.qcow2"
SEED = "seed.img"
IMAGE_MEMORY = 512  # MiB: a Debian cloud guest with cloud-init is cramped in the usual 256
SSH_PORT = 22


def used_ports() -> set[int]:
    """Host ports the home's VMs already forward (each VM keeps its port while stopped)."""
    ports: set[int] = set()
    for vm in store.all_vms():
        cfg = json.loads(vm.config)
        ports.update(f["host_port"] for f in cfg.get("forwards") or [])
    return ports


def free_port(taken: set[int]) -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (the kernel's choice) and no VM of this
    home has claimed. Chosen once, at `add`, and recorded, so the VM keeps it."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((net_spec.HOST_ADDR, 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            return port
    raise MaqetError("could not find a free port on 127.0.0.1 for the SSH forward")


def _forwards(net: str, given: list[str], taken: set[int]) -> list[dict[str, Any]]:
    forwards = [net_spec.parse_forward(f) for f in given]
    if net in net_spec.USER_MODES and net_spec.ssh_forward(forwards) is None:
        busy = taken | {f["host_port"] for f in forwards}
        port = free_port(busy)
        forwards.insert(
            0,
            {
                "proto": "tcp",
                "host_addr": net_spec.HOST_ADDR,
                "host_port": port,
                "guest_port": SSH_PORT,
            },
        )
    return forwards


def _check_size(image: Image, size: str | None) -> str | None:
    if size is None:
        return None
    want = disk_bytes(size, "disk_size")
    if want < image.virtual_size:
        raise ConfigError(
            f"disk_size: {size} is smaller than image {image.name!r} ({image.virtual_size} bytes)",
            field="disk_size",
        )
    return str(want)


def add_from_image(
    manager: Manager,
    name: str,
    image_name: str,
    options: dict[str, Any],
    *,
    disk_size: str | None = None,
    ssh_key: str | None = None,
    user_data: str | None = None,
    forwards: list[str] | None = None,
    net: str | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Define `name` from `image_name`; `options` are the other definition keys (memory...)."""
    validate_name(name)
    paths: Paths = manager.paths
    image = get_image(paths, image_name)
    size = _check_size(image, disk_size)
    mode = net_spec.check_net(net or "user")
    store.open_db(paths.db)
    config: dict[str, Any] = {
        "memory": IMAGE_MEMORY,
        "agent": True,  # the channel costs nothing when the guest runs no agent
        **options,
        "image": image.name,
        "kernel": str(image.kernel) if image.kernel else None,
        "initrd": str(image.initrd) if image.initrd else None,
        "append": image.append if image.kernel else None,
        "net": mode,
        "forwards": _forwards(mode, forwards or [], used_ports()),
        "user_data": str(Path(user_data).absolute()) if user_data else None,
    }
    if config["user_data"]:
        seed.read_user_data(Path(config["user_data"]))
    VMConfig.from_dict(config)  # all checked before a key pair may be made for the home
    config["ssh_key"] = str(ssh_keys.choose_key(paths, ssh_key))
    vm = manager.add(name, config)
    vm_dir = paths.vm_dir(vm["id"])
    try:
        overlay = vm_dir / OVERLAY
        create_overlay(overlay, image.disk, image.format, size)
        if say is not None:
            say(f"created disk {overlay} (qcow2 overlay of image {image.name})")
        cfg = {**vm["config"], "seed": str(vm_dir / SEED)}
        seed.refresh_seed(vm["id"], name, cfg)
        disk = {
            "name": "root",
            "file": str(overlay),
            "format": "qcow2",
            "interface": "virtio",
            "media": "disk",
        }
        return manager.set_config(
            vm["id"],
            {"disks": [disk], "seed": cfg["seed"], "mac": net_spec.derive_mac(vm["id"])},
        )
    except BaseException:
        manager.discard_new(vm["id"])
        raise
