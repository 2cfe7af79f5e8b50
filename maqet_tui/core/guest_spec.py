"""The definition keys of VMs made from images: `image`, `net`, `forwards`, `mac`, `ssh_key`,
`seed` and `user_data`, validated (pure: nothing is run or created here).

Every key defaults to null (or an empty list), which is a VM as they were before images: no NIC,
no seed. `image` only records which image the VM's disk is an overlay of (the overlay itself is an
ordinary entry of `disks`, so snapshots and exports treat it like any disk); `seed` is the NoCloud
volume the VM boots with (read-only, so snapshots skip it); `ssh_key` the public key installed in
the guest; `user_data` the user's own cloud-init file merged into the seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, clip
from maqet_tui.core import net_spec
from maqet_tui.core.disk_spec import absolute_path, require_existing
from maqet_tui.core.images import check_name

GUEST_DEFAULTS: dict[str, Any] = {
    "image": None,
    "net": None,
    "forwards": [],
    "mac": None,
    "ssh_key": None,
    "seed": None,
    "user_data": None,
}


def _file(key: str, value: object, base: Path | None, check: bool) -> str:
    if not isinstance(value, str) or not value or "\0" in value or "\n" in value:
        raise ConfigError(f"{key}: expected a path", field=key)
    if value.startswith("-"):
        raise ConfigError(f"{key}: {clip(value)} must not start with '-'", field=key)
    p = absolute_path(key, value, base)
    if check:
        require_existing(key, p, "file")
    return str(p)


def check_guest_keys(d: dict[str, Any], base: Path | None, check: bool) -> dict[str, Any]:
    """The new keys of a merged definition `d`, validated and normalised."""
    image = d["image"]
    if image is not None:
        if not isinstance(image, str):
            raise ConfigError(f"image: expected an image name, got {clip(image)}", field="image")
        image = check_name(image)
    net = net_spec.check_net(d["net"]) if d["net"] is not None else None
    forwards = net_spec.check_forwards(d["forwards"] or [], net)
    mac = net_spec.check_mac(d["mac"]) if d["mac"] is not None else None
    return {
        "image": image,
        "net": net,
        "forwards": forwards,
        "mac": mac,
        "ssh_key": _file("ssh_key", d["ssh_key"], base, check) if d["ssh_key"] else None,
        # the seed is ours, rebuilt at start when missing: never required to exist beforehand
        "seed": _file("seed", d["seed"], base, False) if d["seed"] else None,
        "user_data": _file("user_data", d["user_data"], base, check) if d["user_data"] else None,
    }


def seed_args(seed: str | None) -> list[str]:
    """The NoCloud seed as a read-only virtio disk: after the VM's own disks (the image's overlay
    stays /dev/vda), and read-only so snapshots, which skip read-only drives, need no qcow2."""
    if not seed:
        return []
    return ["-drive", f"file={seed},format=raw,if=virtio,readonly=on"]
