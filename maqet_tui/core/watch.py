"""The store as a front end sees it: a cheap "did anything change?" probe, the rows, the events.

The TUI reads the store only through this (an import contract keeps it so): it never learns
peewee's per-thread connections or the schema, and a reconciled view of the rows comes with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maqet_tui.store import models as store


class StoreProbe:
    """One home's store, for one thread at a time (peewee keeps a connection per thread)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def version(self) -> int:
        """Changes whenever any connection commits (PRAGMA data_version): one cheap query."""
        store.open_db(self.db_path)
        return store.data_version()

    def rows(self) -> list[dict[str, Any]]:
        """Every VM as `ls --json` shows it."""
        store.open_db(self.db_path)
        return [vm.to_dict() for vm in store.all_vms()]

    def hosts(self) -> list[dict[str, Any]]:
        """Every registered host (store/hosts.py's rows, by name): a table of a few rows, read
        when the store changed, so hosts added or removed meanwhile are noticed."""
        from maqet_tui.store import hosts

        store.open_db(self.db_path)
        return hosts.all_hosts()

    def events_since(self, vm_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        """Events of `vm_id` with an id above `after`, oldest first (the newest `limit`)."""
        store.open_db(self.db_path)
        return store.events_since(vm_id, after, limit)


def release_thread() -> None:
    """Close the calling thread's store connection (call before the thread ends)."""
    store.close_db()
