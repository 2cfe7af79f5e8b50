"""Bringing the store back in line with reality: rows that claim a runner which no longer exists.

Dead only on proof (liveness.py). A row whose runner is proven gone is corrected; its leftovers
(a QEMU that a wrapper binary kept alive, a socket nobody listens on) are cleaned only after
checking they are that VM's. Reconciling never makes a read wait: its writes take the store's
write lock only if it is free at once, and the corrected view is returned either way (the next
command writes it).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Any

from maqet_tui.common.errors import StoreError
from maqet_tui.common.procs import kill_group_if_tagged, wait_group_gone
from maqet_tui.common.unixsock import connected
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.config import identity_tag
from maqet_tui.core.liveness import runner_alive
from maqet_tui.store import rows

WRITE_WAIT_MS = 50  # how long a read command waits for the write lock to record a death


def socket_is_live(path: str) -> bool:
    try:
        connected(path, 0.5).close()
    except OSError:
        return False
    return True


def remove_stale_socket(path: str | None) -> bool:
    """Unlink a socket file nobody listens on; never one that a live process serves."""
    if not path or not os.path.lexists(path) or socket_is_live(path):
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return True


def verdict(row: dict[str, Any]) -> tuple[str, str | None]:
    """The status a row whose runner is proven gone ends in, and why."""
    if row["status"] == "stopping":
        return "stopped", None
    if row["status"] == "starting":
        if row["runner_pid"] is None:
            return "crashed", "the start was abandoned: its starter and runner are gone"
        return "crashed", "the runner died while starting"
    who = f" (pid {row['runner_pid']})" if row["runner_pid"] else ""
    return "crashed", f"the runner{who} died without recording why"


def bury(row: dict[str, Any]) -> None:
    """Clean what a dead runner may have left: its QEMU (proven by the identity tag in its argv)
    and its socket file (only if nobody listens on it)."""
    qemu = row["qemu_pid"]
    # QEMU runs in its own process group (pgid == its pid), with whatever a wrapper binary
    # started: the whole group goes, and is gone before anyone can start the VM again (disk locks).
    if qemu is not None and kill_group_if_tagged(qemu, identity_tag(row["id"])):
        wait_group_gone(qemu, 5)
    remove_stale_socket(row["socket_path"])


class Reconciler:
    """One pass over rows; stops trying to write after the first busy store (reads never wait
    behind another process's write transaction)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.can_write = True

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        """`row` as it really is: unchanged while its runner lives, else corrected."""
        if row["status"] not in LIVE or runner_alive(row):
            return row
        bury(row)
        status, error = verdict(row)
        if self.can_write:
            try:
                self.con.execute(f"PRAGMA busy_timeout = {WRITE_WAIT_MS}")
                with rows.tx(self.con):
                    rows.record_end(self.con, row, status, error)
            except StoreError:
                self.can_write = False
            finally:
                self.con.execute(f"PRAGMA busy_timeout = {rows.BUSY_MS}")
        return {**row, **rows.CLEARED, "status": status, "last_error": error}

    def all(self) -> list[str]:
        """Reconcile every live row; the names that were corrected."""
        fixed = []
        for row in rows.live_rows(self.con):
            if self.row(row)["status"] != row["status"]:
                fixed.append(row["name"])
        return fixed
