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
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import ReadyReport

log = logging.getLogger("runner.store")

WRITE_WAIT_MS = 250  # busy_timeout of the runner's connection; a busy store means "retry later"
BACKOFF = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)

P = ParamSpec("P")
T = TypeVar("T")
Job = Callable[[], object]


class RowView(NamedTuple):
    exists: bool
    status: str | None = None
    runner_pid: int | None = None
    replaced: bool = False  # the database file was deleted or replaced: register again


# The store operations the runner uses, each a typed call of maqet_tui.store.models that imports
# the module (and peewee) where it runs: on the store thread, at its first use.


def update_vm(vm_id: str, *, expect_runner: int | None = None, **fields: Any) -> bool:
    from maqet_tui.store import models

    return models.update_vm(vm_id, expect_runner=expect_runner, **fields)


def add_event(vm_id: str, kind: str, name: str, data: dict[str, Any]) -> None:
    from maqet_tui.store import models

    models.add_event(vm_id, kind, name, data)


def end_start(vm_id: str, token: str, status: str, error: str | None) -> bool:
    from maqet_tui.store import models

    return models.end_start(vm_id, token, status, error)


def claim_running(vm_id: str, token: str, report: ReadyReport) -> bool:
    from maqet_tui.store import models

    return models.claim_running(vm_id, token, report)


def adopt(row: dict[str, Any]) -> str:
    from maqet_tui.store import models

    return models.adopt(row)


def _close() -> None:
    from maqet_tui.store import models

    models.close_db()


def _open(db_path: Path, *, fresh: bool, reopen: bool = False) -> None:
    """Open the store on this (the store) thread; a fresh connection waits WRITE_WAIT_MS at most."""
    from maqet_tui.store import models

    models.open_db(db_path, reopen=reopen)
    if fresh or reopen:
        models.set_busy_timeout(WRITE_WAIT_MS)


class StoreIO:
    def __init__(self, db_path: Path, vm_id: str, identity: tuple[int, int] | None = None) -> None:
        self.db_path = db_path
        self.vm_id = vm_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._last_version: int | None = None
        self._expected = identity  # the file the start was claimed in
        self._identity: tuple[int, int] | None = None
        self._queue: asyncio.Queue[Job] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.failing: str | None = None  # the last write error, while writes keep failing

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` (one of the operations above, or a method of this object) on the store
        thread, the store open there."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, functools.partial(self._run, functools.partial(fn, *args, **kwargs))
        )

    def _run(self, job: Callable[[], T]) -> T:
        if self._identity is None:
            _open(self.db_path, fresh=True)
            self._identity = self._expected or self._file_identity()
        else:
            _open(self.db_path, fresh=False)
        return job()

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
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

    def record(self, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue a write; queued writes land in order, each retried until it succeeds."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.ensure_future(self._drain(self._queue))
        self._queue.put_nowait(functools.partial(fn, *args, **kwargs))

    async def _drain(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await self.write(job)
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
        _open(self.db_path, fresh=False, reopen=True)
        self._identity = self._file_identity()
        self._last_version = None
        return True

    def changed_row(self) -> RowView | None:
        """The VM's row if anything in the database changed since the last look, else None."""
        from maqet_tui.store import models as store

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
        if "maqet_tui.store.models" in sys.modules:
            await loop.run_in_executor(self._pool, _close)
        self._pool.shutdown(wait=True)
