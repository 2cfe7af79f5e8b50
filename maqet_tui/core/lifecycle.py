"""Starting and stopping a VM: the one path the CLI, the TUI and the Python API all take.

It runs on a bare sqlite3 connection (rows.py) so the CLI never pays for peewee's import on its
hottest commands; every write is one of rows.py's compare-and-set transitions.

start: the row goes `stopped`/`crashed` -> `starting` with a fresh token, only while the definition
is the one QEMU's argv was built from; then the runner is spawned with that token and records
itself (or the starter does, from the runner's readiness report: whichever comes first). A start
that lost its token (stopped, deleted, edited or timed out meanwhile) never comes up.

stop: asks the runner, which acts first and records afterwards; a runner that does not answer by
the deadline (SIGSTOPped, wedged) is killed with its QEMU and the stop recorded as such.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

from maqet_tui.common.errors import (
    ConfigError,
    IPCError,
    NotFoundError,
    StartError,
    StateError,
    StoreError,
    TimeoutError_,
    clip,
)
from maqet_tui.common.ids import looks_like_id
from maqet_tui.common.paths import Paths
from maqet_tui.common.procs import is_alive, signal_if_same, start_time, wait_gone
from maqet_tui.common.vmstate import LIVE, QEMU_UP, TRANSITIONAL
from maqet_tui.core import ipc_client
from maqet_tui.core.accel import kvm_hint
from maqet_tui.core.config import VMConfig, build_argv
from maqet_tui.core.liveness import find_runner, is_runner_of
from maqet_tui.core.net_preflight import check_network, start_hint
from maqet_tui.core.reconcile import Reconciler, bury
from maqet_tui.core.seed import refresh_seed
from maqet_tui.core.spawn import launch, wait_ready
from maqet_tui.protocol import wire as proto
from maqet_tui.store import rows

DEFAULT_TIMEOUT = 30.0  # for a start
STOP_GRACE = 5.0  # past the stop timeout: QEMU's quit (3 s), the kill, the final record
REACH_PATIENCE = 2.0  # a runner rebinds a vanished socket within its store poll (0.25 s)
POLL = 0.02

Progress = Callable[[str], None]


def open_rows(paths: Paths) -> sqlite3.Connection:
    """A bare connection to the home's database, migrated to the current schema if needed."""
    con = rows.connect(paths.db)
    if con is None:
        from maqet_tui.store import models as store

        store.open_db(paths.db)
        con = rows.connect(paths.db)
        if con is None:
            raise NotFoundError(f"cannot open the database {paths.db}")
    return con


def _find(con: sqlite3.Connection, ident: str) -> dict[str, Any]:
    row = rows.find(con, ident)
    if row is None:
        what = "with id" if looks_like_id(ident) else "named"
        raise NotFoundError(f"no VM {what} {clip(ident)}")
    return row


def _wait_while(
    con: sqlite3.Connection, row: dict[str, Any], deadline: float, what: str
) -> dict[str, Any] | None:
    """Wait while the row stays as it is (status and runner) and its process lives; the row after
    the change, or None if it was removed."""
    rec = Reconciler(con)
    while True:
        now = rows.get(con, row["id"])
        if now is None:
            return None
        now = rec.row(now)
        if (now["status"], now["runner_pid"]) != (row["status"], row["runner_pid"]):
            return now
        if time.monotonic() > deadline:
            raise TimeoutError_(f"{what} did not finish in time")
        time.sleep(POLL)


# -- start ---------------------------------------------------------------------------------------
def start(
    paths: Paths, ident: str, timeout: float = DEFAULT_TIMEOUT
) -> tuple[dict[str, Any], bool]:
    """Start the VM; returns (row, already) once QMP answers, `already` when it was running.

    Exits only with the VM running the definition the store holds, or with an error.
    """
    deadline = time.monotonic() + timeout
    with closing(open_rows(paths)) as con:
        rec = Reconciler(con)
        while True:
            row = rec.row(_find(con, ident))
            if row["status"] in QEMU_UP:
                return row, True
            if row["status"] in TRANSITIONAL:
                what = (
                    f"the {'start' if row['status'] == 'starting' else 'stop'} of {row['name']!r}"
                )
                if _wait_while(con, row, deadline, what) is None:
                    raise StateError(f"VM {row['name']!r} was removed")
                continue
            # Checked before the row says "starting": a bad stored definition is an error here,
            # not a runner that dies. Missing files are left for QEMU to report in its words.
            cfg = VMConfig.from_dict(json.loads(row["config"]), check_files=False)
            argv = build_argv(row["id"], row["name"], cfg)
            if cfg.seed:
                refresh_seed(row["id"], row["name"], cfg.to_dict())
            check_network(row["name"], cfg)
            paths.socket(row["id"])  # an unusable runtime directory is an error before any change
            with rows.tx(con):
                me = os.getpid()
                token = rows.begin_start(con, row["id"], row["config"], me, start_time(me))
            if token is None:
                continue  # changed since we read it (edited, started, removed): look again
            return _run(paths, con, row, argv, token, deadline), False


def _run(
    paths: Paths,
    con: sqlite3.Connection,
    row: dict[str, Any],
    argv: list[str],
    token: str,
    deadline: float,
) -> dict[str, Any]:
    vm_id, name = row["id"], row["name"]
    try:
        run = launch(paths, row, argv, token)
    except BaseException as exc:
        with rows.tx(con):
            rows.end_start(con, vm_id, token, "crashed", str(exc) or type(exc).__name__)
        raise
    try:
        report = wait_ready(run, name, max(1.0, deadline - time.monotonic()))
    except TimeoutError_:
        abandon(con, vm_id, token)
        raise
    except StartError as exc:
        accel = argv[argv.index("-accel") + 1]  # what build_argv resolved `auto` to
        net = json.loads(row["config"]).get("net")
        detail = start_hint(name, net, kvm_hint(accel, exc.detail or str(exc)))
        with rows.tx(con):  # the runner records this too; whichever comes first
            rows.end_start(con, vm_id, token, "crashed", detail)
        raise StartError(start_hint(name, net, kvm_hint(accel, str(exc))), detail) from None
    with rows.tx(con):
        claimed = rows.claim(con, vm_id, token, report)
    after = rows.get(con, vm_id)
    if not claimed or after is None or after["status"] not in QEMU_UP:
        how = "removed" if after is None else f"{after['status']} by another process"
        raise StateError(f"VM {name!r} was {how} while it started")
    return after


def abandon(con: sqlite3.Connection, vm_id: str, token: str) -> None:
    """A start that timed out must not come up later behind the user's back: a runner that has
    not recorded itself finds its token no longer starting (and stops its QEMU); one that has
    is killed."""
    with rows.tx(con):
        if rows.end_start(con, vm_id, token, "crashed", "start timed out"):
            return
        row = rows.get(con, vm_id)
    if row is None or row["start_token"] != token or row["runner_pid"] is None:
        return
    _kill_runner(row)
    with rows.tx(con):
        rows.record_end(con, row, "crashed", "start timed out")


def _kill_runner(row: dict[str, Any]) -> None:
    pid, started = row["runner_pid"], row["runner_started"]
    if pid is not None and is_runner_of(pid, row["id"]):
        signal_if_same(pid, started, signal.SIGKILL)
        wait_gone(pid, 5, started)
    bury(row)


# -- stop ----------------------------------------------------------------------------------------
def check_timeout(timeout: float) -> None:
    """A stop timeout outside 0..STOP_TIMEOUT_MAX (or NaN) is a ConfigError, before anything is
    asked."""
    if not 0 <= timeout <= proto.STOP_TIMEOUT_MAX:  # NaN fails this too
        raise ConfigError(f"timeout: {timeout} is out of range (0..{proto.STOP_TIMEOUT_MAX:g} s)")


def stop(
    paths: Paths,
    ident: str,
    force: bool = False,
    timeout: float = proto.STOP_TIMEOUT_DEFAULT,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], bool]:
    """Graceful power-down, then quit, then kill; (row, already) once QEMU is gone.

    Done within about `timeout` + 5 s whatever the runner or the store are doing: a runner that
    does not answer by then is killed, with its QEMU, and the stop recorded as such.
    """
    check_timeout(timeout)
    with closing(open_rows(paths)) as con:
        rec = Reconciler(con)
        row = rec.row(_find(con, ident))
        if row["status"] not in LIVE:
            return row, True
        if row["status"] == "starting":
            after = _wait_while(
                con, row, time.monotonic() + DEFAULT_TIMEOUT, f"the start of {row['name']!r}"
            )
            if after is None or after["status"] not in LIVE:
                return after or row, True
            row = after
        deadline = time.monotonic() + timeout + STOP_GRACE
        answer: dict[str, Any] | None = None
        try:
            answer = _ask_stop(con, row, force, timeout, deadline, progress)
        except IPCError as exc:
            if exc.code not in proto.UNREACHABLE:
                raise  # it answered, with a refusal: say so rather than kill the VM
            _stop_unresponsive(con, row, exc, progress)
        pid, started = row["runner_pid"], row["runner_started"]
        if pid is not None:
            # It answers once QEMU is gone, then records and exits; a store that is busy or
            # full may hold the record back (the runner retries): the answer stands then.
            wait_gone(pid, max(0.5, min(STOP_GRACE, deadline - time.monotonic())), started)
        after = rows.get(con, row["id"])
        if after is None:
            return {**row, "status": "stopped"}, False
        if after["status"] in LIVE and answer is not None:
            return {**after, "status": answer.get("status", after["status"])}, False
        return rec.row(after), False


def _ask_stop(
    con: sqlite3.Connection,
    row: dict[str, Any],
    force: bool,
    timeout: float,
    deadline: float,
    progress: Progress | None,
) -> dict[str, Any]:
    """The runner's answer to `stop`; a hung runner is found by the client's heartbeat."""
    told = force or progress is None

    def tick(waited: float) -> None:
        nonlocal told
        if not told:
            assert progress is not None
            progress(
                f"waiting up to {timeout:g} s for the guest to power down "
                "(then QEMU is told to quit, then killed; --force skips the wait)"
            )
            told = True

    with _reach(con, row) as client:
        req = client.send("stop", {"force": force, "timeout": timeout})
        try:
            result: dict[str, Any] = client.result(req, deadline - time.monotonic(), tick) or {}
        except IPCError as exc:
            if exc.code == proto.TIMEOUT:
                raise IPCError(
                    f"the runner of {row['name']!r} (pid {row['runner_pid']}) did not finish "
                    f"the stop within {timeout + STOP_GRACE:g} s",
                    proto.TIMEOUT,
                ) from None
            raise
        return result


def call(paths: Paths, vm_id: str, method: str, params: dict[str, Any], timeout: float) -> Any:
    """One request to a VM's runner, at the socket the store records (see `_reach`)."""
    with closing(open_rows(paths)) as con:
        row = rows.get(con, vm_id)
        if row is None:
            raise NotFoundError(f"no VM with id {vm_id!r}")
        client = _reach(con, row, timeout)
    with client:
        return client.call(method, params, timeout=timeout)


def _reach(
    con: sqlite3.Connection, row: dict[str, Any], timeout: float = 5.0
) -> ipc_client.IPCClient:
    """A connection to the row's runner at the socket the store records. A runner whose socket
    file was removed binds it again (or at its fallback, recording that) within a store poll."""
    patience = time.monotonic() + REACH_PATIENCE
    while True:
        if not row["socket_path"] or row["status"] not in QEMU_UP | TRANSITIONAL:
            # Stopped between the caller's look and ours: say so, as the runner would.
            raise IPCError(
                f"VM {row['name']!r} is not running (status: {row['status']})", proto.NOT_RUNNING
            )
        try:
            return ipc_client.IPCClient(row["socket_path"] or "", timeout=timeout)
        except IPCError as exc:
            if exc.code != proto.NOT_RUNNING or time.monotonic() > patience:
                raise
            if not is_alive(row["runner_pid"], row["runner_started"]):
                raise
        time.sleep(0.05)
        now = rows.get(con, row["id"])
        if now is None or now["runner_pid"] != row["runner_pid"]:
            raise IPCError(f"the runner of {row['name']!r} is gone", proto.NOT_RUNNING)
        row = now


def _stop_unresponsive(
    con: sqlite3.Connection, row: dict[str, Any], exc: IPCError, progress: Progress | None
) -> None:
    """The runner cannot be reached or does not answer: an explicit stop still stops. A runner
    that is gone is reconciled; one that lives is killed with its QEMU."""
    pid, started = row["runner_pid"], row["runner_started"]
    alive = pid is not None and is_alive(pid, started) and is_runner_of(pid, row["id"])
    if not alive and find_runner(row["id"]) is None:
        return  # reconciled by the caller's last read
    if progress is not None:
        progress(f"{exc}; killing it and its QEMU")
    _kill_runner(row)
    try:
        with rows.tx(con):
            now = rows.get(con, row["id"])
            if now is not None and now["status"] in LIVE and now["runner_pid"] == pid:
                rows.record_end(con, now, "stopped", "runner unresponsive, killed")
    except StoreError as err:  # stopped all the same; the next command records it (reconcile)
        if progress is not None:
            progress(f"stopped, but not recorded yet: {err}")
