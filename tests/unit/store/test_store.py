"""The store on its own: schema versions, uniqueness, guarded writes, bounded history."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from maqet_tui.common.errors import NotFoundError, StoreError
from maqet_tui.store import models as store
from maqet_tui.store import rows

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import ReadyReport


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "maqet.db"
    store.open_db(path)
    yield path
    store.close_db()
    store.db.init(None)


def test_fresh_database_is_current_and_wal(db: Path) -> None:
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_busy_timeout_on_every_connection(db: Path) -> None:
    assert store.db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 15000


def test_migrates_v1_forward_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE vm (id VARCHAR(16) PRIMARY KEY, name VARCHAR(63) NOT NULL UNIQUE,
          config TEXT NOT NULL, status VARCHAR(16) NOT NULL, last_error TEXT,
          qemu_pid INTEGER, runner_pid INTEGER, runner_started BIGINT, socket_path TEXT,
          started_at REAL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
        INSERT INTO vm VALUES ('00aa11bb', 'old', '{}', 'stopped', NULL, NULL, NULL, NULL,
          NULL, NULL, 1.0, 1.0);
        PRAGMA user_version = 1;
        """
    )
    con.close()
    store.open_db(path)
    try:
        assert [v.name for v in store.all_vms()] == ["old"]
        store.add_event("00aa11bb", "status", "stopped", {})
        assert store.recent_events("00aa11bb")[0]["name"] == "stopped"
        assert store.db.execute_sql("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    finally:
        store.close_db()
        store.db.init(None)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        store.open_db(path)


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        store.open_db(path)


def test_names_are_unique(db: Path) -> None:
    store.insert_vm("a", {})
    with pytest.raises(StoreError, match="already exists"):
        store.insert_vm("a", {})
    assert len(store.all_vms()) == 1


def test_find_by_name_then_id(db: Path) -> None:
    vm = store.insert_vm("a", {})
    assert store.find("a").id == vm.id
    assert store.find(vm.id).name == "a"
    with pytest.raises(NotFoundError, match="'zz'"):
        store.find("zz")


def _report(pid: int) -> ReadyReport:
    return {
        "ok": True,
        "id": "00000000",
        "name": "a",
        "last_error": None,
        "runner_pid": pid,
        "runner_started": 5,
        "qemu_pid": pid + 1,
        "status": "running",
        "socket_path": "/x.sock",
        "started_at": 1.0,
    }


def _begin(vm_id: str, config: str | None = None) -> str | None:
    with store.immediate():
        if config is None:
            vm = store.get_by_id(vm_id)
            assert vm is not None
            config = vm.config
        return rows.begin_start(store.db.connection(), vm_id, config, 1, None)


def test_an_id_shaped_ident_is_only_ever_an_id(db: Path) -> None:
    def read_row(db: Path, ident: str, cols: tuple[str, ...]) -> dict[str, Any] | None:
        con = rows.connect(db)
        assert con is not None
        row = rows.find(con, ident)
        con.close()
        return None if row is None else {c: row[c] for c in cols}

    a, b = store.insert_vm("a", {}), store.insert_vm("b", {})
    # A row from before names were checked: b is named like a's id.
    store.VM.update(name=a.id).where(store.VM.id == b.id).execute()
    for ident in (a.id, a.id.upper()):
        assert store.find(ident).id == a.id
        assert read_row(db, ident, ("id", "name")) == {"id": a.id, "name": "a"}
    assert store.find(b.id).name == a.id
    with pytest.raises(NotFoundError, match="no VM with id '0badf00d'"):
        store.find("0badf00d")
    assert read_row(db, "0badf00d", ("id",)) is None


def test_guarded_update_only_for_recorded_runner(db: Path) -> None:
    vm = store.insert_vm("a", {})
    token = _begin(vm.id)
    assert token is not None
    assert store.claim_running(vm.id, token, _report(111))
    assert store.claim_running(vm.id, token, _report(111))  # the runner and the starter both
    assert not store.claim_running(vm.id, token, _report(333))  # already claimed by 111
    assert not store.update_vm(vm.id, expect_runner=999, status="crashed")
    assert store.update_vm(vm.id, expect_runner=111, status="paused")
    assert store.find("a").status == "paused"


def test_the_runner_keeps_its_claim_after_another_process_stops_the_vm(db: Path) -> None:
    """The starter records the runner first; another process then writes `stopped`; the runner's
    own claim must still succeed, so that its store watcher carries the stop out and records it
    (a refused claim stopped QEMU without recording anything, leaving the runner on the row)."""
    vm = store.insert_vm("a", {})
    token = _begin(vm.id)
    assert token is not None
    assert store.claim_running(vm.id, token, _report(111))  # the starter
    store.update_vm(vm.id, status="stopped")  # another process
    assert store.claim_running(vm.id, token, _report(111))  # the runner


def test_start_is_owned_by_one_token(db: Path) -> None:
    vm = store.insert_vm("a", {})
    first = _begin(vm.id)
    assert first is not None
    assert _begin(vm.id) is None  # already starting: a second start does not take it over
    assert not store.claim_running(vm.id, "not-the-token", _report(7))
    assert store.end_start(vm.id, first, "crashed", "start timed out")
    assert not store.claim_running(vm.id, first, _report(7))  # abandoned: the runner must stop
    assert store.find("a").status == "crashed"


def test_start_refused_when_the_definition_changed(db: Path) -> None:
    """`set` between reading the definition and claiming the start: the claim fails, so the
    start cannot bring up the old definition."""
    vm = store.insert_vm("a", {"memory": 64})
    before = store.get_by_id(vm.id)
    assert before is not None
    old = before.config
    store.update_vm(vm.id, config='{"memory": 128}')
    assert _begin(vm.id, old) is None
    assert store.find("a").status == "stopped"


def test_claim_refused_when_no_longer_starting(db: Path) -> None:
    vm = store.insert_vm("a", {})
    assert not store.claim_running(vm.id, "t", _report(1))  # stopped, never started


def test_event_history_is_bounded(db: Path) -> None:
    vm = store.insert_vm("a", {})
    for i in range(store.EVENTS_KEPT_PER_VM + 200):
        store.add_event(vm.id, "qmp", "STOP", {"i": i})
    n = store.Event.select().where(store.Event.vm_id == vm.id).count()
    assert store.EVENTS_KEPT_PER_VM <= n <= store.EVENTS_KEPT_PER_VM + 50
    assert store.recent_events(vm.id, 1)[0]["data"]["i"] == store.EVENTS_KEPT_PER_VM + 199


def test_delete_removes_events(db: Path) -> None:
    vm = store.insert_vm("a", {})
    store.delete_vm(vm.id)
    assert store.recent_events(vm.id) == [] and store.all_vms() == []


def test_data_version_sees_other_connections(db: Path) -> None:
    before = store.data_version()
    con = sqlite3.connect(db)
    con.execute("UPDATE vm SET status = 'x'")
    con.execute("INSERT INTO event (vm_id, ts, kind, name, data) VALUES ('a', 0, 'k', 'n', '{}')")
    con.commit()
    con.close()
    assert store.data_version() != before
