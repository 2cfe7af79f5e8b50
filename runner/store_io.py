"""Store access from the runner's event loop, on one dedicated thread.

SQLite calls can wait on `busy_timeout` when other processes write; running them on a single worker
thread keeps the loop (and so IPC pings) responsive while preserving the order of writes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from maqet_tui import store

T = TypeVar("T")


@dataclass
class RowView:
    exists: bool
    status: str | None = None
    runner_pid: int | None = None


class StoreIO:
    def __init__(self, db_path: Path, vm_id: str) -> None:
        self.db_path = db_path
        self.vm_id = vm_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._last_version: int | None = None

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, functools.partial(self._run, fn, *args, **kwargs)
        )

    def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        store.open_db(self.db_path)
        return fn(*args, **kwargs)

    def changed_row(self) -> RowView | None:
        """The VM's row if anything in the database changed since the last look, else None."""
        version = store.data_version()
        if version == self._last_version:
            return None
        self._last_version = version
        vm = store.get_by_id(self.vm_id)
        if vm is None:
            return RowView(exists=False)
        return RowView(exists=True, status=vm.status, runner_pid=vm.runner_pid)

    def shutdown(self) -> None:
        self._pool.submit(store.close_db).result()
        self._pool.shutdown(wait=True)
