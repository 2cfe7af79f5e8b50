"""Bringing the store back in line with reality: rows that claim a runner which no longer exists.

The VM lock is the ground truth: a runner holds it for its whole life, and the kernel releases it
when the runner dies, however it dies. PIDs in the row are only used to find processes to clean
up, and only after checking they are who the row says (start time for the runner, argv for QEMU).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

from . import store, vmlock
from .config import identity_tag
from .paths import Paths
from .procs import is_alive, kill_group_if_tagged


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


def _await_dying_runner(paths: Paths, row: store.VM) -> None:
    """A killed multi-threaded runner releases its lock a few ms after its main thread is gone
    (the kernel closes shared files with the last thread); wait that out before judging."""
    if row.runner_pid is None or is_alive(row.runner_pid, row.runner_started):
        return
    deadline = time.monotonic() + 2.0
    while vmlock.is_held(paths.lock(row.id)) and time.monotonic() < deadline:
        time.sleep(0.005)


def reconcile_vm(paths: Paths, vm: store.VM) -> store.VM:
    """If `vm` claims a live status but no runner holds its lock, record what happened to it."""
    if vm.status not in store.LIVE_STATUSES:
        return vm
    _await_dying_runner(paths, vm)
    lock_path = paths.lock(vm.id)
    with store.immediate():
        # Inside the write lock a live runner cannot commit its own final status, so "row says
        # live, lock is free" really means the runner died without recording it.
        row = store.get_by_id(vm.id)
        if row is None or row.status not in store.LIVE_STATUSES:
            return row or vm
        fd = vmlock.try_lock(lock_path, patience=3)
        if fd is None:
            return row  # a runner, or a starter about to spawn one, holds it
        try:
            _record_death(paths, row)
        finally:
            vmlock.release(fd, lock_path)  # unlinked while held: no stale lock file stays
    return store.get_by_id(vm.id) or vm


def _record_death(paths: Paths, row: store.VM) -> None:
    kill_group_if_tagged(row.qemu_pid, identity_tag(row.id))
    for path in {row.socket_path, str(paths.socket(row.id))}:
        remove_stale_socket(path)
    if row.status == "stopping":
        status, error = "stopped", None
    elif row.status == "starting":
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
