"""The VM table's state transitions, in plain SQL on a sqlite3 connection.

Every change of a VM's life (start claimed, runner recorded, start abandoned, death recorded) is
written here and only here, as a compare-and-set inside a write transaction. Both the peewee store
(which hands over its own connection, `store.db.connection()`) and the CLI's hot paths (a bare
sqlite3 connection, without peewee's ~25 ms import) call these functions, so there is one
implementation of each transition whoever drives it.

Who owns a start is decided by a random token set together with `starting` and compared by every
later step, never by clocks: a runner whose token is no longer on the row lost its start (the VM was
stopped, deleted, edited or started again meanwhile) and stops its QEMU.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maqet_tui.common.errors import StoreError
from maqet_tui.common.ids import looks_like_id
from maqet_tui.common.vmstate import LIVE, STARTABLE, Status

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import ReadyReport

SCHEMA_VERSION = 4
EVENTS_KEPT_PER_VM = 300
COLUMNS = (
    "id",
    "name",
    "config",
    "status",
    "last_error",
    "qemu_pid",
    "runner_pid",
    "runner_started",
    "socket_path",
    "started_at",
    "created_at",
    "updated_at",
    "start_token",
    "owner_pid",
    "owner_started",
)
CLEARED = {
    "qemu_pid": None,
    "runner_pid": None,
    "runner_started": None,
    "socket_path": None,
    "started_at": None,
    "owner_pid": None,
    "owner_started": None,
}
BUSY_MS = 15000


def _db_name(con: sqlite3.Connection) -> str:
    with contextlib.suppress(sqlite3.Error):
        for _seq, name, file in con.execute("PRAGMA database_list").fetchall():
            if name == "main":
                return str(file)
    return "(database)"


def connect(db: Path, busy_ms: int = BUSY_MS) -> sqlite3.Connection | None:
    """A connection to a database of the current schema, or None (no file, or another schema:
    the caller opens the store, which migrates, and asks again)."""
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(db, timeout=busy_ms / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, db)) from None
    try:
        con.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        if con.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            con.close()
            return None
    except sqlite3.Error as exc:
        con.close()
        raise StoreError(explain(exc, db)) from None
    return con


def explain(exc: BaseException, db: object) -> str:
    """One line for a failed database operation: the cause, not a rollback error that hides it
    (after SQLITE_FULL the failed COMMIT has already rolled back, so the client's own ROLLBACK
    fails with "no transaction is active")."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__context__ or e.__cause__
    texts = [str(x).lower() for x in chain]
    if any("disk is full" in t or "no space" in t for t in texts) or _no_space(db):
        return f"no space left on device: cannot write the database {db}"
    if any("database is locked" in t or "database is busy" in t for t in texts):
        return f"the database {db} is busy: another process holds its write lock"
    if any("readonly" in t or "read-only" in t for t in texts):
        return f"the database {db} is read-only"
    cause = next((x for x in reversed(chain) if "no transaction is active" not in str(x)), exc)
    return f"database error ({db}): {cause}"


def _no_space(db: object) -> bool:
    """SQLite says "disk I/O error" when a full disk stops it growing its shared-memory file."""
    try:
        st = os.statvfs(os.path.dirname(str(db)) or ".")
    except OSError:
        return False
    return st.f_bavail == 0


@contextlib.contextmanager
def tx(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on a bare connection, taking the write lock up front (a deferred one
    that has read cannot upgrade under contention)."""
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        with contextlib.suppress(sqlite3.Error):
            if con.in_transaction:
                con.execute("ROLLBACK")
        raise StoreError(explain(exc, _db_name(con))) from None


def _row(cur: sqlite3.Cursor) -> dict[str, Any] | None:
    r = cur.fetchone()
    return None if r is None else dict(zip(COLUMNS, r, strict=True))


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM vm"
# LIVE as a list of SQL literals, in the enum's order
_LIVE_SQL = ", ".join(f"'{s}'" for s in Status if s in LIVE)


def get(con: sqlite3.Connection, vm_id: str) -> dict[str, Any] | None:
    """The row with this id as {column: value}, or None."""
    return _row(con.execute(f"{_SELECT} WHERE id = ?", (vm_id,)))


def find(con: sqlite3.Connection, ident: str) -> dict[str, Any] | None:
    """An id-shaped `ident` by id only, anything else by exact name only (as store.find): no
    valid name looks like an id, so one VM can never be taken for another."""
    if looks_like_id(ident):
        return get(con, ident.lower())
    return _row(con.execute(f"{_SELECT} WHERE name = ?", (ident,)))


def live_rows(con: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every row whose status says a runner is, or should be, there."""
    cur = con.execute(f"{_SELECT} WHERE status IN ({_LIVE_SQL}) ORDER BY name")
    return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]


def update(con: sqlite3.Connection, vm_id: str, fields: dict[str, Any], **guard: Any) -> bool:
    """Write `fields` where the row still matches every `guard` column (None matches NULL); a
    status change is appended to the event history. True when the row was changed."""
    fields = {**fields, "updated_at": time.time()}
    sets = ", ".join(f"{k} = ?" for k in fields)
    where = ["id = ?"]
    params: list[Any] = [*fields.values(), vm_id]
    for k, v in guard.items():
        if v is None:
            where.append(f"{k} IS NULL")
        else:
            where.append(f"{k} = ?")
            params.append(v)
    changed = con.execute(f"UPDATE vm SET {sets} WHERE {' AND '.join(where)}", params).rowcount
    if changed and "status" in fields:
        add_event(
            con,
            vm_id,
            "status",
            fields["status"],
            {"status": fields["status"], "last_error": fields.get("last_error")},
        )
    return bool(changed)


def add_event(con: sqlite3.Connection, vm_id: str, kind: str, name: str, data: Any) -> None:
    """Append an event; every 50th insert trims the VM's history to EVENTS_KEPT_PER_VM."""
    cur = con.execute(
        "INSERT INTO event (vm_id, ts, kind, name, data) VALUES (?, ?, ?, ?, ?)",
        (vm_id, time.time(), kind, name[:64], json.dumps(data)),
    )
    if (cur.lastrowid or 0) % 50 == 0:
        con.execute(
            "DELETE FROM event WHERE vm_id = ? AND id <= (SELECT id FROM event WHERE vm_id = ? "
            "ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (vm_id, vm_id, EVENTS_KEPT_PER_VM),
        )


# -- the transitions (each runs inside the caller's write transaction) ---------------------------
def begin_start(
    con: sqlite3.Connection, vm_id: str, config: str, owner_pid: int, owner_started: int | None
) -> str | None:
    """`stopped`/`crashed` -> `starting`, only while the definition is still `config` (the one
    the caller built QEMU's argv from). The token that now owns the start, or None."""
    row = get(con, vm_id)
    if row is None or row["status"] not in STARTABLE or row["config"] != config:
        return None
    token = secrets.token_hex(8)
    update(
        con,
        vm_id,
        {
            **CLEARED,
            "status": "starting",
            "last_error": None,
            "start_token": token,
            "owner_pid": owner_pid,
            "owner_started": owner_started,
        },
    )
    return token


def claim(con: sqlite3.Connection, vm_id: str, token: str, report: ReadyReport) -> bool:
    """Record a runner that reported ready, if its start still owns the row. The starter and the
    runner both call this, whichever gets there first; True once the row names this runner,
    whatever it says since (a stop written by another process is the runner's to carry out)."""
    row = get(con, vm_id)
    if row is None or row["start_token"] != token:
        return False
    if row["runner_pid"] == report["runner_pid"]:
        return True
    if row["status"] != "starting":
        return False
    return update(
        con,
        vm_id,
        {
            "status": report["status"],
            "last_error": None,
            "runner_pid": report["runner_pid"],
            "runner_started": report["runner_started"],
            "qemu_pid": report["qemu_pid"],
            "socket_path": report["socket_path"],
            "started_at": report["started_at"],
            "owner_pid": None,
            "owner_started": None,
        },
        start_token=token,
        status="starting",
    )


def end_start(
    con: sqlite3.Connection, vm_id: str, token: str, status: str, error: str | None
) -> bool:
    """A start that failed or was abandoned: `starting` -> `status`, if `token` still owns it."""
    return update(
        con,
        vm_id,
        {**CLEARED, "status": status, "last_error": error},
        start_token=token,
        status="starting",
    )


def record_end(
    con: sqlite3.Connection, row: dict[str, Any], status: str, error: str | None
) -> bool:
    """A runner's end, as `row` (read before) saw it: written only if nothing changed since."""
    return update(
        con,
        row["id"],
        {**CLEARED, "status": status, "last_error": error},
        status=row["status"],
        runner_pid=row["runner_pid"],
        start_token=row["start_token"],
    )


def read_host(con: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    """A fleet host's row (see store/hosts.py) read without the ORM: `--host` commands start
    ssh sooner for it."""
    row = con.execute(
        "SELECT name, destination, command, ssh_options, created_at FROM host WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None
    return {
        "name": row[0],
        "destination": row[1],
        "command": json.loads(row[2]),
        "ssh_options": json.loads(row[3]),
        "created_at": row[4],
    }
