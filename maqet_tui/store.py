"""The SQLite store shared by every process: the CLI, the TUI and each VM's runner.

WAL lets readers run beside one writer; `busy_timeout` on every connection makes writers queue
instead of failing; and every read-then-write runs in an IMMEDIATE transaction, because a DEFERRED
one that has read cannot upgrade to a write under contention (SQLite returns BUSY at once, whatever
the timeout).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import peewee as pw

from .errors import NotFoundError, StoreError

SCHEMA_VERSION = 2
EVENTS_KEPT_PER_VM = 300
STATUSES = ("stopped", "starting", "running", "paused", "stopping", "crashed")
LIVE_STATUSES = frozenset({"starting", "running", "paused", "stopping"})
PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 15000,
    "synchronous": "normal",
    "foreign_keys": 1,
}

db = pw.SqliteDatabase(None)


class _Base(pw.Model):
    class Meta:
        database = db


class VM(_Base):
    id = pw.CharField(primary_key=True, max_length=16)
    name = pw.CharField(unique=True, max_length=63)
    config = pw.TextField()
    status = pw.CharField(default="stopped", index=True, max_length=16)
    last_error = pw.TextField(null=True)
    qemu_pid = pw.IntegerField(null=True)
    runner_pid = pw.IntegerField(null=True)
    runner_started = pw.BigIntegerField(null=True)
    socket_path = pw.TextField(null=True)
    started_at = pw.FloatField(null=True)
    created_at = pw.FloatField()
    updated_at = pw.FloatField()

    class Meta:
        table_name = "vm"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "last_error": self.last_error,
            "qemu_pid": self.qemu_pid,
            "runner_pid": self.runner_pid,
            "runner_started": self.runner_started,
            "socket_path": self.socket_path,
            "started_at": self.started_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "config": json.loads(self.config),
        }


class Event(_Base):
    id = pw.AutoField()
    vm_id = pw.CharField(max_length=16)
    ts = pw.FloatField()
    kind = pw.CharField(max_length=16)  # "status" or "qmp"
    name = pw.CharField(max_length=64)
    data = pw.TextField()

    class Meta:
        table_name = "event"
        indexes = ((("vm_id", "id"), False),)


def _migrate_v1() -> None:
    db.create_tables([VM])


def _migrate_v2() -> None:
    # v2 added the bounded event history.
    db.create_tables([Event])


MIGRATIONS = {1: _migrate_v1, 2: _migrate_v2}


def open_db(path: Path) -> None:
    """Open (creating or migrating) the database; safe to call again, from any thread.

    peewee keeps one connection per thread; the schema check runs once per process and path.
    """
    if db.database == str(path):
        db.connect(reuse_if_open=True)
        return
    if not db.is_closed():
        db.close()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # SQLite would create the file 0644 (less the umask) and gives -wal and -shm the file's mode:
    # created 0600 first (an empty file is an empty database), none of them is readable by others.
    with suppress(OSError):  # exists already, or SQLite reports the problem below
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db.init(str(path), pragmas=PRAGMAS, timeout=15)
    try:
        db.connect(reuse_if_open=True)
        _upgrade()
    except (pw.DatabaseError, sqlite3.DatabaseError) as exc:
        db.close()
        db.init(None)
        raise StoreError(f"cannot open database {path}: {exc}") from None
    except StoreError:
        db.close()
        db.init(None)
        raise


def _upgrade() -> None:
    current = int(db.execute_sql("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"database schema {current} is newer than this maqet-tui understands ({SCHEMA_VERSION})"
        )
    if current == SCHEMA_VERSION:
        return
    with db.atomic("IMMEDIATE"):
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = int(db.execute_sql("PRAGMA user_version").fetchone()[0])
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version]()
            db.execute_sql(f"PRAGMA user_version = {version}")


def close_db() -> None:
    if not db.is_closed():
        db.close()


def immediate() -> Any:
    """A write transaction that takes the lock up front (see the module docstring)."""
    return db.atomic("IMMEDIATE")


def data_version() -> int:
    """Changes whenever another connection commits: a cheap 'did anything change?' probe."""
    return int(db.execute_sql("PRAGMA data_version").fetchone()[0])


def new_id() -> str:
    while True:
        vm_id = secrets.token_hex(4)
        if not VM.select().where(VM.id == vm_id).exists():
            return vm_id


def find(ident: str) -> VM:
    """By exact name first, then by id (ids are short hex and never valid as another VM's name)."""
    vm = VM.get_or_none(VM.name == ident) or VM.get_or_none(VM.id == ident)
    if vm is None:
        raise NotFoundError(f"no VM named {ident!r}")
    return vm


def get_by_id(vm_id: str) -> VM | None:
    return VM.get_or_none(VM.id == vm_id)


def all_vms() -> list[VM]:
    return list(VM.select().order_by(VM.name))


def insert_vm(name: str, config: dict[str, Any]) -> VM:
    now = time.time()
    with immediate():
        if VM.select().where(VM.name == name).exists():
            raise StoreError(f"a VM named {name!r} already exists")
        vm_id = new_id()
        VM.insert(
            id=vm_id,
            name=name,
            config=json.dumps(config),
            status="stopped",
            created_at=now,
            updated_at=now,
        ).execute()
        add_event(vm_id, "status", "stopped", {"status": "stopped", "last_error": None})
    return VM.get_by_id(vm_id)


def update_vm(vm_id: str, *, expect_runner: int | None = None, **fields: Any) -> bool:
    """Write fields; with `expect_runner`, only while that runner is still the one on record.

    The guard keeps a runner that lost its VM (row re-owned by a newer runner) from overwriting it.
    Returns whether a row was changed. A status change is also appended to the event history.
    """
    fields["updated_at"] = time.time()
    q = VM.update(**fields).where(VM.id == vm_id)
    if expect_runner is not None:
        q = q.where(VM.runner_pid == expect_runner)
    changed = bool(q.execute())
    if changed and "status" in fields:
        add_event(
            vm_id,
            "status",
            fields["status"],
            {"status": fields["status"], "last_error": fields.get("last_error")},
        )
    return changed


def _waiting_for(row: VM, spawned_at: float | None) -> bool:
    """Is this row waiting for the runner spawned at `spawned_at`? Yes when it says `starting`
    with no runner yet; also when the starter spawned the runner before writing `starting` (the
    CLI does, to overlap its own imports with the runner's boot): the row then still shows how
    it was before the spawn, untouched since."""
    if row.runner_pid is not None:
        return False
    if row.status == "starting":
        return True
    return (
        spawned_at is not None
        and row.status in ("stopped", "crashed")
        and row.updated_at <= spawned_at
    )


def claim_start(
    vm_id: str,
    runner_pid: int,
    runner_started: int | None,
    qemu_pid: int | None,
    spawned_at: float | None = None,
) -> bool:
    """A new runner records itself (to report a failed start), only if the VM still waits for
    it: not deleted, not stopped meanwhile, not already claimed."""
    with immediate():
        row = get_by_id(vm_id)
        if row is None or not _waiting_for(row, spawned_at):
            return False
        VM.update(
            runner_pid=runner_pid,
            runner_started=runner_started,
            qemu_pid=qemu_pid,
            updated_at=time.time(),
        ).where(VM.id == vm_id).execute()
        return True


def claim_running(
    vm_id: str,
    runner_pid: int,
    runner_started: int | None,
    qemu_pid: int,
    status: str,
    socket_path: str,
    started_at: float | None,
    spawned_at: float | None = None,
) -> bool:
    """Record a runner that reported ready. Both the starter and the runner call this, whichever
    gets there first, so the CLI need not wait for the runner to load the store: it is done once
    the row names this runner. False when the VM was deleted, stopped, or taken by another runner
    meanwhile (the runner then stops its QEMU)."""
    with immediate():
        row = get_by_id(vm_id)
        if row is None:
            return False
        if row.runner_pid == runner_pid:
            return True
        if not _waiting_for(row, spawned_at):
            return False
        update_vm(
            vm_id,
            status=status,
            last_error=None,
            runner_pid=runner_pid,
            runner_started=runner_started,
            qemu_pid=qemu_pid,
            socket_path=socket_path,
            started_at=started_at,
        )
        return True


def claim_reported(vm_id: str, report: dict[str, Any], spawned_at: float | None = None) -> bool:
    """claim_running from a runner's readiness report (the starter's side)."""
    return claim_running(
        vm_id,
        report["runner_pid"],
        report["runner_started"],
        report["qemu_pid"],
        report["status"],
        report["socket_path"],
        report["started_at"],
        spawned_at,
    )


def mark_starting(vm_id: str, spawned_at: float) -> bool:
    """The CLI's start spawns first and records `starting` after (see _waiting_for). Not if the
    runner has claimed the row already, nor if someone changed the row since the spawn."""
    with immediate():
        row = get_by_id(vm_id)
        if row is None or not _waiting_for(row, spawned_at) or row.status == "starting":
            return False
        update_vm(
            vm_id,
            status="starting",
            last_error=None,
            qemu_pid=None,
            socket_path=None,
            started_at=None,
        )
        return True


def add_event(vm_id: str, kind: str, name: str, data: dict[str, Any]) -> None:
    eid = Event.insert(
        vm_id=vm_id, ts=time.time(), kind=kind, name=name[:64], data=json.dumps(data)
    ).execute()
    if eid % 50 == 0:
        _trim_events(vm_id)


def _trim_events(vm_id: str) -> None:
    cutoff = (
        Event.select(Event.id)
        .where(Event.vm_id == vm_id)
        .order_by(Event.id.desc())
        .offset(EVENTS_KEPT_PER_VM)
        .limit(1)
        .scalar()
    )
    if cutoff is not None:
        Event.delete().where((Event.vm_id == vm_id) & (Event.id <= cutoff)).execute()


def recent_events(vm_id: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = Event.select().where(Event.vm_id == vm_id).order_by(Event.id.desc()).limit(limit)
    return [
        {"ts": e.ts, "kind": e.kind, "name": e.name, "data": json.loads(e.data)}
        for e in reversed(list(rows))
    ]


def events_since(vm_id: str, after_id: int = 0, limit: int = 200) -> list[dict[str, Any]]:
    """Events newer than `after_id`, oldest first: lets a view follow the history by id."""
    rows = (
        Event.select()
        .where((Event.vm_id == vm_id) & (Event.id > after_id))
        .order_by(Event.id.desc())
        .limit(limit)
    )
    return [
        {"id": e.id, "ts": e.ts, "kind": e.kind, "name": e.name, "data": json.loads(e.data)}
        for e in reversed(list(rows))
    ]


def delete_vm(vm_id: str) -> None:
    with immediate():
        Event.delete().where(Event.vm_id == vm_id).execute()
        VM.delete().where(VM.id == vm_id).execute()


@contextmanager
def session(path: Path) -> Iterator[None]:
    open_db(path)
    try:
        yield
    finally:
        close_db()
