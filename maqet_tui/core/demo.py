"""The ready-made demo VM: a real Linux guest a newcomer can boot on the first run.

Its kernel and initramfs are built once into a cache (see guest_image) and the VM is pinned to TCG:
on hosts where KVM is nested through PVM, /dev/kvm exists yet hangs Linux guests.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import NotFoundError, StateError
from maqet_tui.core.guest_image import KERNEL_APPEND, GuestImage, Progress, ensure_guest
from maqet_tui.core.manager import Manager

DEMO_NAME = "demo"


def cache_dir(manager: Manager) -> Path:
    env = os.environ.get("MAQET_TUI_GUEST_CACHE")
    return Path(env) if env else manager.paths.home / "guest"


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
    been rebuilt elsewhere); a running one is left alone.
    """
    image = ensure_guest(cache_dir(manager), progress)
    config = demo_config(image)
    try:
        vm = manager.get(name)
    except NotFoundError:
        return manager.add(name, config), True
    if vm["config"] != {**vm["config"], **config}:
        with contextlib.suppress(StateError):
            vm = manager.set_config(name, config)
    return vm, False
