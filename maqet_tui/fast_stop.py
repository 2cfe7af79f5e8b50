"""The CLI's `stop` of a running VM without loading the store's ORM.

A graceful stop of a booted guest takes QEMU ~35 ms; the CLI's own start-up was most of the rest
(peewee alone ~25 ms). When the VM's runner is alive (its lock is held) nothing needs reconciling:
read its socket with plain sqlite3 (store_lite), ask it to stop, wait for it to exit. Anything
unusual (no row, not live, a schema we do not know, an unreachable runner) returns None and the
caller takes the full Manager path.
"""

from __future__ import annotations

from typing import Any

from . import ipc_client, vmlock
from .errors import IPCError
from .paths import Paths
from .procs import wait_gone
from .store_lite import read_row
from .vmstate import RUNNING


def stop(home: str | None, ident: str, force: bool, timeout: float) -> dict[str, Any] | None:
    """The VM's final state after a stop through its runner, or None for the full path."""
    paths = Paths.resolve(home)
    vm = read_row(paths.db, ident, ("id", "status", "socket_path", "runner_pid", "runner_started"))
    if vm is None or vm["status"] not in RUNNING or not vm["socket_path"]:
        return None
    if not vmlock.is_held(paths.lock(vm["id"])):
        return None  # the runner is gone: reconciling is the Manager's job
    try:
        result: dict[str, Any] = ipc_client.call(
            vm["socket_path"], "stop", {"force": force, "timeout": timeout}, timeout=timeout + 20
        )
    except IPCError:
        return None
    if vm["runner_pid"] is not None:
        wait_gone(vm["runner_pid"], 15, vm["runner_started"])
    return result
