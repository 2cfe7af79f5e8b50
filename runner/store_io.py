"""Store access from the runner's event loop, on one dedicated thread, and writes that never fail.

SQLite calls run on a single worker thread (peewee keeps one connection per thread) so the loop
(and with it IPC, QMP and the serial port) stays responsive. The runner's connection waits at most
WRITE_WAIT for the write lock; a write that meets a busy, full or failing store is retried with
backoff, in order, until it lands: the runner acts first (powers the guest down, kills QEMU) and
records afterwards, so no store fault can stand between a user and their VM. The store module (and
peewee, ~30 ms) is imported on that thread at its first use, after the runner has reported ready.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

log = logging.getLogger("runner.store")

WRITE_WAIT_MS = 250  # busy_timeout of the runner's connection; a busy store means "retry later"
BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


class RowView(NamedTuple):
    exists: bool
    status: str | None = None
    runner_pid: int | None = None
    replaced: bool = False  # the database file was deleted or replaced: register again


def _store() -> ModuleType:
    from maqet_tui.store import models as store

    return store


class StoreIO:
    def __init__(self, db_path: Path, vm_id: str, identity: tuple[int, int] | None = None) -> None:
        self.db_path = db_path
        self.vm_id = vm_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._last_version: int | None = None
        self._expected = identity  # the file the start was claimed in
        self._identity: tuple[int, int] | None = None
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...], dict[str, Any]]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.failing: str | None = None  # the last write error, while writes keep failing

    async def call(self, fn: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn` (a maqet_tui.store.models function by name, or a callable) on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, functools.partial(self._run, fn, *args, **kwargs)
        )

    def _run(self, fn: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        store = _store()
        if self._identity is None:
            store.open_db(self.db_path)
            store.db.execute_sql(f"PRAGMA busy_timeout = {WRITE_WAIT_MS}")
            self._identity = self._expected or self._file_identity()
        else:
            store.open_db(self.db_path)
        target = getattr(store, fn) if isinstance(fn, str) else fn
        return target(*args, **kwargs)

    async def write(self, fn: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`call`, retried with backoff until it succeeds (errors are logged once per streak)."""
        attempt = 0
        while True:
            try:
                result = await self.call(fn, *args, **kwargs)
            except Exception as exc:
                text = f"{type(exc).__name__}: {exc}"
                if self.failing != text:
                    log.warning("store write failed, retrying until it succeeds: %s", text)
                self.failing = text
                await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
                attempt += 1
                continue
            if self.failing is not None:
                log.info("store writes succeed again")
                self.failing = None
            return result

    def record(self, fn: str, *args: Any, **kwargs: Any) -> None:
        """Queue a write; queued writes land in order, each retried until it succeeds."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.ensure_future(self._drain(self._queue))
        self._queue.put_nowait((fn, args, kwargs))

    async def _drain(
        self, queue: asyncio.Queue[tuple[str, tuple[Any, ...], dict[str, Any]]]
    ) -> None:
        while True:
            fn, args, kwargs = await queue.get()
            try:
                await self.write(fn, *args, **kwargs)
            finally:
                queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued write has landed."""
        if self._queue is not None:
            await self._queue.join()

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def replaced(self) -> bool:
        """On the store thread: is the database file another than the one we know (deleted,
        replaced)? If so, from now on we know the new one."""
        if self._file_identity() == self._identity:
            return False
        store = _store()
        store.open_db(self.db_path, reopen=True)
        store.db.execute_sql(f"PRAGMA busy_timeout = {WRITE_WAIT_MS}")
        self._identity = self._file_identity()
        self._last_version = None
        return True

    def changed_row(self) -> RowView | None:
        """The VM's row if anything in the database changed since the last look, else None."""
        store = _store()
        if self.replaced():
            # Deleted or replaced under us: the old connection wrote to a file nobody reads.
            return RowView(exists=False, replaced=True)
        version = store.data_version()
        if version == self._last_version:
            return None
        self._last_version = version
        vm = store.get_by_id(self.vm_id)
        if vm is None:
            return RowView(exists=False)
        return RowView(exists=True, status=vm.status, runner_pid=vm.runner_pid)

    async def shutdown(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        loop = asyncio.get_running_loop()
        if "maqet_tui.store.models" in __import__("sys").modules:
            await loop.run_in_executor(self._pool, lambda: _store().close_db())
        self._pool.shutdown(wait=True)
