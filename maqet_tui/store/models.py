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
from typing import TYPE_CHECKING, Any

import peewee as pw

from maqet_tui.common.errors import NotFoundError, StoreError, clip
from maqet_tui.common.ids import looks_like_id
from maqet_tui.store import rows

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import ReadyReport

SCHEMA_VERSION = rows.SCHEMA_VERSION
EVENTS_KEPT_PER_VM = rows.EVENTS_KEPT_PER_VM
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
    """A VM: its definition (config, JSON), where its runner is, and how its last run ended."""

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
    start_token = pw.CharField(null=True, max_length=32)
    owner_pid = pw.IntegerField(null=True)
    owner_started = pw.BigIntegerField(null=True)

    class Meta:
        table_name = "vm"

    def to_dict(self) -> dict[str, Any]:
        """The row as `ls --json` and `show --json` print it (internal start bookkeeping left out)."""
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
    """One status change or QMP event of a VM; at most EVENTS_KEPT_PER_VM are kept per VM."""

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


def _migrate_v3() -> None:
    # v3: starts are owned by a token compared in the store, and a start in progress names its
    # starter (so a start whose starter died is recognised without waiting for a runner).
    have = {r[1] for r in db.execute_sql("PRAGMA table_info(vm)").fetchall()}
    for column in ("start_token TEXT", "owner_pid INTEGER", "owner_started INTEGER"):
        if column.split()[0] not in have:  # a fresh database got them from the model (v1)
            db.execute_sql(f"ALTER TABLE vm ADD COLUMN {column}")


class Host(_Base):
    """A remote host of the fleet: how to reach it (ssh destination and options) and how to run
    maqet-tui there (an argv, JSON). Its VMs live in its own store; only this row lives here."""

    name = pw.CharField(primary_key=True, max_length=63)
    destination = pw.TextField()
    command = pw.TextField()  # JSON list of words
    ssh_options = pw.TextField()  # JSON list of "KEY=VALUE"
    created_at = pw.FloatField()

    class Meta:
        table_name = "host"


def _migrate_v4() -> None:
    # v4: the fleet's hosts (`maqet-tui host add`).
    db.create_tables([Host])


MIGRATIONS = {1: _migrate_v1, 2: _migrate_v2, 3: _migrate_v3, 4: _migrate_v4}


def open_db(path: Path, reopen: bool = False) -> None:
    """Open (creating or migrating) the database; safe to call again, from any thread.

    peewee keeps one connection per thread; the schema check runs once per process and path.
    `reopen` closes and opens again: the file at `path` was replaced or deleted (a runner then
    writes its row into the new one).
    """
    if db.database == str(path) and not reopen:
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
        raise StoreError(f"cannot open database {path}: {rows.explain(exc, path)}") from None
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
    """Close this thread's connection (peewee keeps one per thread)."""
    if not db.is_closed():
        db.close()


@contextmanager
def immediate() -> Iterator[None]:
    """A write transaction that takes the lock up front (see the module docstring). SQLite's
    failures come out as a StoreError that says what happened ("no space left on device"), not
    as the rollback error that a failed commit leaves behind."""
    try:
        with db.atomic("IMMEDIATE"):
            yield
    except (pw.OperationalError, sqlite3.OperationalError) as exc:
        raise StoreError(rows.explain(exc, db.database)) from None


def set_busy_timeout(ms: int) -> None:
    """How long this thread's connection waits for a lock before it reports the store busy."""
    db.execute_sql(f"PRAGMA busy_timeout = {int(ms)}")


def data_version() -> int:
    """Changes whenever another connection commits: a cheap 'did anything change?' probe."""
    return int(db.execute_sql("PRAGMA data_version").fetchone()[0])


def new_id() -> str:
    """A fresh VM id: 8 lowercase hex digits, unused in this store (call inside a transaction)."""
    while True:
        vm_id = secrets.token_hex(4)
        if not VM.select().where(VM.id == vm_id).exists():
            return vm_id


def find(ident: str) -> VM:
    """An id-shaped ident by id only, any other by exact name only: no valid name looks like an id
    (config.validate_name), so a VM named like another's id can never be taken for it."""
    if looks_like_id(ident):
        vm = VM.get_or_none(VM.id == ident.lower())
        if vm is None:
            raise NotFoundError(f"no VM with id {ident!r}")
        return vm
    vm = VM.get_or_none(VM.name == ident)
    if vm is None:
        raise NotFoundError(f"no VM named {clip(ident)}")
    return vm


def get_by_id(vm_id: str) -> VM | None:
    """The row with this id, or None."""
    return VM.get_or_none(VM.id == vm_id)


def all_vms() -> list[VM]:
    """Every VM, ordered by name."""
    return list(VM.select().order_by(VM.name))


def insert_vm(name: str, config: dict[str, Any]) -> VM:
    """Add a stopped VM; a name already taken is a StoreError naming it."""
    now = time.time()
    with immediate():
        if VM.select().where(VM.name == name).exists():
            raise StoreError(f"a VM named {name!r} already exists", field="name")
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
    guard = {} if expect_runner is None else {"runner_pid": expect_runner}
    return rows.update(db.connection(), vm_id, fields, **guard)


def claim_running(vm_id: str, token: str, report: ReadyReport) -> bool:
    """Record a runner that reported ready, if its start (`token`) still owns the row. Already
    recorded (the starter usually is first) is seen without taking the write lock."""
    row = get_by_id(vm_id)
    if row is not None and row.start_token == token and row.runner_pid == report["runner_pid"]:
        return True
    with immediate():
        return rows.claim(db.connection(), vm_id, token, report)


def end_start(vm_id: str, token: str, status: str, error: str | None) -> bool:
    """A start that failed or was abandoned, if `token` still owns it."""
    with immediate():
        return rows.end_start(db.connection(), vm_id, token, status, error)


def add_event(vm_id: str, kind: str, name: str, data: dict[str, Any]) -> None:
    """Append to the VM's bounded event history (see rows.add_event)."""
    rows.add_event(db.connection(), vm_id, kind, name, data)


def recent_events(vm_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest `limit` events of a VM, oldest first."""
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
    """Forget a VM and its events (a live runner notices and stops its QEMU)."""
    with immediate():
        Event.delete().where(Event.vm_id == vm_id).execute()
        VM.delete().where(VM.id == vm_id).execute()


@contextmanager
def session(path: Path) -> Iterator[None]:
    """The store opened for the block, closed after it."""
    open_db(path)
    try:
        yield
    finally:
        close_db()


def adopt(row: dict[str, Any]) -> str:
    """A live runner's row, written again into a database that was deleted or replaced; the
    name it is listed under (NAME-ID when a new VM took the name meanwhile)."""
    with immediate():
        existing = get_by_id(row["id"])
        if existing is not None:
            return str(existing.name)
        name = row["name"]
        if VM.select().where(VM.name == name).exists():
            name = f"{name[: 62 - len(row['id'])]}-{row['id']}"
        VM.insert(**{**row, "name": name}).execute()
        add_event(row["id"], "status", row["status"], {"status": row["status"], "adopted": True})
        return str(name)
