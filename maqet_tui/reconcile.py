"""Bringing the store back in line with reality: rows that claim a runner which no longer exists.

The VM lock is the ground truth: a runner holds it for its whole life, and the kernel releases it
when the runner dies, however it dies. PIDs in the row are only used to find processes to clean
up, and only after checking they are who the row says (start time for the runner, argv for QEMU).
"""

from __future__ import annotations

import contextlib
import os
import socket

from . import store, vmlock
from .config import identity_tag
from .paths import Paths
from .procs import signal_if_cmdline


def socket_is_live(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(path)
    except OSError:
        return False
    finally:
        s.close()
    return True


def remove_stale_socket(path: str | None) -> bool:
    """Unlink a socket file nobody listens on; never one that a live process serves."""
    if not path or not os.path.lexists(path) or socket_is_live(path):
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return True


def reconcile_vm(paths: Paths, vm: store.VM) -> store.VM:
    """If `vm` claims a live status but no runner holds its lock, record what happened to it."""
    if vm.status not in store.LIVE_STATUSES:
        return vm
    with store.immediate():
        # Inside the write lock a live runner cannot commit its own final status, so "row says
        # live, lock is free" really means the runner died without recording it.
        row = store.get_by_id(vm.id)
        if row is None or row.status not in store.LIVE_STATUSES:
            return row or vm
        if vmlock.is_held(paths.lock(row.id)):
            return row
        was = row.status
        signal_if_cmdline(row.qemu_pid, identity_tag(row.id))
        for path in {row.socket_path, str(paths.socket(row.id))}:
            remove_stale_socket(path)
        if was == "stopping":
            status, error = "stopped", None
        elif was == "starting":
            status, error = "crashed", "the runner died while starting"
        else:
            who = f" (pid {row.runner_pid})" if row.runner_pid else ""
            status, error = "crashed", f"the runner{who} died without recording why"
        store.update_vm(
            row.id,
            status=status,
            last_error=error,
            qemu_pid=None,
            runner_pid=None,
            runner_started=None,
            socket_path=None,
            started_at=None,
        )
    return store.get_by_id(vm.id) or vm


def reconcile_all(paths: Paths) -> list[str]:
    """Reconcile every row that claims to be live; returns the names that were corrected."""
    fixed = []
    # Materialise first: a cursor still open during the IMMEDIATE transactions below would hold
    # a read snapshot that SQLite cannot upgrade once another process has written (BUSY at once,
    # whatever the busy_timeout).
    live = list(store.VM.select().where(store.VM.status.in_(list(store.LIVE_STATUSES))))
    for vm in live:
        after = reconcile_vm(paths, vm)
        if after.status != vm.status:
            fixed.append(vm.name)
    return fixed
