"""Store access from the runner's event loop, on one dedicated thread.

SQLite calls can wait on `busy_timeout` when other processes write; running them on a single worker
thread keeps the loop (and so IPC pings) responsive while preserving the order of writes. The
store module (and peewee, ~30 ms) is imported on that thread at its first use, which comes after
the runner has reported ready: it is not on the start-up path.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple


class RowView(NamedTuple):
    exists: bool
    status: str | None = None
    runner_pid: int | None = None


def _store() -> ModuleType:
    from maqet_tui import store

    return store


class StoreIO:
    def __init__(self, db_path: Path, vm_id: str) -> None:
        self.db_path = db_path
        self.vm_id = vm_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._last_version: int | None = None

    async def call(self, fn: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn` (a maqet_tui.store function by name, or a callable) on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, functools.partial(self._run, fn, *args, **kwargs)
        )

    def _run(self, fn: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        store = _store()
        store.open_db(self.db_path)
        target = getattr(store, fn) if isinstance(fn, str) else fn
        return target(*args, **kwargs)

    def changed_row(self) -> RowView | None:
        """The VM's row if anything in the database changed since the last look, else None."""
        store = _store()
        version = store.data_version()
        if version == self._last_version:
            return None
        self._last_version = version
        vm = store.get_by_id(self.vm_id)
        if vm is None:
            return RowView(exists=False)
        return RowView(exists=True, status=vm.status, runner_pid=vm.runner_pid)

    def shutdown(self) -> None:
        if "maqet_tui.store" in __import__("sys").modules:
            self._pool.submit(lambda: _store().close_db()).result()
        self._pool.shutdown(wait=True)
