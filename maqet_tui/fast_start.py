"""The CLI's `start`: spawn the runner first, load the store's ORM while it boots.

A Python CLI spends ~35 ms importing peewee and the manager; the runner needs ~100 ms to bring
QEMU's monitor up. Done one after the other they add up; here the runner is spawned as soon as the
VM's definition is read (plain sqlite3) and its lock taken, and the CLI records `starting` while
the runner boots on the other core. The store accepts that order (store._waiting_for).

Anything unusual (unknown or live VM, lock held elsewhere, unknown schema) returns None before
spawning anything, and the caller takes the full Manager path, which handles every case.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import vmlock
from .config import VMConfig, build_argv
from .errors import ConfigError, TimeoutError_
from .paths import Paths
from .spawn import launch, wait_ready
from .store_lite import read_row


def start(home: str | None, ident: str, timeout: float) -> dict[str, Any] | None:
    """The started VM, or None for the full path (nothing was spawned then)."""
    paths = Paths.resolve(home)
    paths.ensure()
    vm = read_row(paths.db, ident, ("id", "name", "status", "config"))
    if vm is None or vm["status"] not in ("stopped", "crashed"):
        return None
    try:
        argv = build_argv(
            vm["id"], vm["name"], VMConfig.from_dict(json.loads(vm["config"]), check_files=False)
        )
    except (ConfigError, ValueError):
        return None  # the full path reports it properly
    lock_path = paths.lock(vm["id"])
    fd = vmlock.try_lock(lock_path)
    if fd is None:
        return None  # someone else is starting it: the full path waits for them
    try:
        run = launch(paths, vm["id"], vm["name"], argv, fd)
    except BaseException:
        vmlock.release(fd, lock_path)  # no runner took the lock over
        raise
    os.close(fd)  # the runner holds its own copy
    from . import store
    from .manager import Manager

    manager = Manager(home, reconcile=False)
    store.mark_starting(vm["id"], run.spawned_at)
    try:
        r = wait_ready(run, vm["name"], max(1.0, timeout))
    except TimeoutError_:
        manager.abandon_start(vm["id"])
        raise
    # False here means the runner recorded itself first and the VM has since moved on (another
    # process may already have stopped it): what the store says now is the honest answer.
    store.claim_reported(vm["id"], r, run.spawned_at)
    return manager.get(vm["id"])
