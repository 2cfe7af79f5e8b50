"""The Python API both front ends sit on: add, list, get, start, stop, pause, resume, qmp, remove.

Every call is synchronous and safe to make from several processes at once; state lives in the
store and in the runners, never in this object. Importing it pulls in no Textual and no asyncio.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maqet_tui.common.errors import IPCError, StateError
from maqet_tui.common.paths import Paths
from maqet_tui.common.procs import is_alive
from maqet_tui.common.vmstate import LIVE, QEMU_UP
from maqet_tui.core import lifecycle
from maqet_tui.core.config import VMConfig, validate_name
from maqet_tui.core.reconcile import Reconciler
from maqet_tui.protocol import wire as proto
from maqet_tui.store import models as store
from maqet_tui.store import rows

if TYPE_CHECKING:
    from maqet_tui.core.guest_agent import ExecResult

DEFAULT_START_TIMEOUT = lifecycle.DEFAULT_TIMEOUT
DEFAULT_STOP_TIMEOUT = proto.STOP_TIMEOUT_DEFAULT
MAX_STOP_TIMEOUT = proto.STOP_TIMEOUT_MAX
# How long a call that met a runner on its way out waits for the store to say so (see _moved_on).
MOVE_ON_PATIENCE = 3.0


class Manager:
    """One home's VMs. Cheap to create; reconciles the store with reality on creation."""

    def __init__(self, home: str | os.PathLike[str] | None = None, reconcile: bool = True) -> None:
        self.paths = Paths.resolve(home)
        self.paths.ensure()
        store.open_db(self.paths.db)
        if reconcile:
            self.reconcile()

    # -- reading -----------------------------------------------------------------------------
    def reconcile(self) -> builtins.list[str]:
        """Correct rows whose runner is proven gone; never waits for the store's write lock."""
        with closing(lifecycle.open_rows(self.paths)) as con:
            return Reconciler(con).all()

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every VM as it really is: a row whose runner is proven gone is shown corrected even
        when another process holds the store's write lock (the correction is written later)."""
        store.open_db(self.paths.db)
        vms = [vm.to_dict() for vm in store.all_vms()]
        if any(vm["status"] in LIVE for vm in vms):
            with closing(lifecycle.open_rows(self.paths)) as con:
                rec = Reconciler(con)
                for vm in vms:
                    row = rows.get(con, vm["id"]) if vm["status"] in LIVE else None
                    if row is not None:
                        fixed = rec.row(row)
                        vm.update({k: fixed[k] for k in vm if k in fixed and k != "config"})
        return vms

    def get(self, ident: str) -> dict[str, Any]:
        """One VM (by name, or by id), reconciled, as `show --json` prints it."""
        return self._vm(ident).to_dict()

    def events(self, ident: str, limit: int = 50) -> builtins.list[dict[str, Any]]:
        """The VM's newest status changes and QMP events, oldest first."""
        return store.recent_events(self._vm(ident).id, limit)

    def _vm(self, ident: str, reconcile: bool = True) -> store.VM:
        store.open_db(self.paths.db)
        vm = store.find(ident)
        if reconcile and vm.status in LIVE:
            with closing(lifecycle.open_rows(self.paths)) as con:
                row = rows.get(con, vm.id)
                if row is not None and Reconciler(con).row(row) != row:
                    vm = store.find(vm.id)
        return vm

    # -- definitions -------------------------------------------------------------------------
    def add(self, name: str, config: dict[str, Any], base: Path | None = None) -> dict[str, Any]:
        """Define a VM; the whole definition is validated first (relative paths against `base`)."""
        validate_name(name)
        cfg = VMConfig.from_dict(config, base=base)
        store.open_db(self.paths.db)
        return store.insert_vm(name, cfg.to_dict()).to_dict()

    def discard_new(self, vm_id: str) -> None:
        """Undo an add that failed half-way (a disk or seed could not be made): its row and its
        own directory go. Only for an id just made by `add`, so the directory holds nothing
        else; files made elsewhere are the caller's to remove."""
        store.delete_vm(vm_id)
        shutil.rmtree(self.paths.vm_dir(vm_id), ignore_errors=True)

    def set_config(self, ident: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a stopped VM's definition; the merged result is validated as a whole.

        A live VM is refused rather than edited under its feet: QEMU could not apply most changes
        anyway, and a definition that differs from what runs would mislead.
        """
        with store.immediate():
            vm = store.find(ident)
            if vm.status in LIVE:
                raise StateError(f"VM {vm.name!r} is {vm.status}; stop it before editing")
            cfg = VMConfig.from_dict({**json.loads(vm.config), **changes})
            store.update_vm(vm.id, config=json.dumps(cfg.to_dict()))
        return self.get(vm.id)

    def remove(self, ident: str, force: bool = False, delete_disks: bool = False) -> dict[str, Any]:
        """Forget a VM. Its data directory (disks we created) is kept unless `delete_disks`;
        the result's `kept` lists what stays on disk so the caller can say where."""
        vm = self._vm(ident)
        if vm.status in LIVE:
            if not force:
                raise StateError(f"VM {vm.name!r} is {vm.status}; stop it first or use --force")
            self.stop(vm.id, force=True)
        store.delete_vm(vm.id)
        for p in (self.paths.runner_log(vm.id), self.paths.serial_log(vm.id)):
            for f in (p, p.with_name(p.name + ".1")):
                f.unlink(missing_ok=True)
        data_dir = self.paths.vm_dir(vm.id)
        kept: builtins.list[str] = []
        if delete_disks:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif data_dir.exists() and any(data_dir.iterdir()):
            kept.append(str(data_dir))
        return {**vm.to_dict(), "kept": kept}

    # -- lifecycle (lifecycle.py: the one path for every front end) -----------------------------
    def start(self, ident: str, timeout: float = DEFAULT_START_TIMEOUT) -> dict[str, Any]:
        """Start the VM and return once QMP answers; a running VM is left alone (idempotent)."""
        row, _already = lifecycle.start(self.paths, ident, timeout)
        return self.get(row["id"])

    def stop(
        self,
        ident: str,
        force: bool = False,
        timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> dict[str, Any]:
        """Graceful power-down, then quit, then kill; returns once QEMU is gone.

        Idempotent: stopping a stopped VM is not an error.
        """
        row, _already = lifecycle.stop(self.paths, ident, force, timeout)
        if row["status"] in LIVE:
            return {**self.get(row["id"]), "status": row["status"]}
        return self.get(row["id"])

    def pause(self, ident: str) -> dict[str, Any]:
        """The status the pause produced, as the runner reports it (the store may lag)."""
        return self._with_status(ident, self._call_live(ident, "pause"))

    def resume(self, ident: str) -> dict[str, Any]:
        """The status the resume produced, as the runner reports it."""
        return self._with_status(ident, self._call_live(ident, "resume"))

    def _with_status(self, ident: str, answer: Any) -> dict[str, Any]:
        vm = self.get(ident)
        if isinstance(answer, dict) and answer.get("status"):
            vm["status"] = answer["status"]
        return vm

    def reset(self, ident: str) -> dict[str, Any]:
        """A hard reset of the guest (QMP system_reset); the VM stays up."""
        self._call_live(ident, "qmp", {"command": "system_reset"})
        return self.get(ident)

    def qmp(
        self,
        ident: str,
        command: str,
        arguments: dict[str, Any] | None = None,
        timeout: float = 60.0,
    ) -> Any:
        # The runner waits `timeout` for QEMU (a live savevm takes minutes); we wait a little
        # longer, so QEMU's silence is reported by the runner, naming QEMU.
        return self._call_live(
            ident,
            "qmp",
            {"command": command, "arguments": arguments, "timeout": timeout},
            timeout=timeout + 5,
        )

    def console_write(self, ident: str, data: str) -> Any:
        """Type `data` into the guest's serial console (at most 64 KiB)."""
        return self._call_live(ident, "console-write", {"data": data})

    def guest(self, ident: str) -> dict[str, Any]:
        """What the guest agent reports: `{agent, ips, hostname, os}` (architecture.md)."""
        from maqet_tui.core.guest_agent import guest_info

        return guest_info(self.get(ident))

    def exec(
        self,
        ident: str,
        argv: builtins.list[str],
        timeout: float = proto.EXEC_TIMEOUT_DEFAULT,
        data: bytes | None = None,
    ) -> ExecResult:
        """Run `argv` in the guest through its agent and return its ExecResult (exit status
        and output); `data` is its standard input."""
        from maqet_tui.core.guest_agent import exec_params, exec_result

        params = exec_params(argv, timeout, data)
        return exec_result(self._call_live(ident, "guest-exec", params, timeout=timeout + 15))

    def _call_live(
        self, ident: str, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> Any:
        """One call to the VM's runner. A stop landing between our look and the call answers
        "not running"; when a start then brought the VM back before we looked again, the call
        goes once more to the runner that is up now: the caller asked about the VM, not about
        one incarnation of it."""
        vm = self._vm(ident)
        try:
            return self._call_up(vm, method, params or {}, timeout)
        except IPCError as exc:
            if exc.code not in (proto.NOT_RUNNING, proto.CLOSED):
                raise
        return self._call_up(self._moved_on(vm), method, params or {}, timeout)

    def _moved_on(self, was: store.VM) -> store.VM:
        """The VM once the store no longer shows the runner that just said "not running" as up.
        That runner writes its end right after answering; asking it again before then would
        only hear the same answer. Bounded: a runner that never writes is reconciled anyway."""
        deadline = time.monotonic() + MOVE_ON_PATIENCE
        while True:
            now = self._vm(was.id)
            same = now.runner_pid == was.runner_pid and now.runner_started == was.runner_started
            if not same or now.status not in QEMU_UP or time.monotonic() > deadline:
                return now
            time.sleep(0.05)

    def _call_up(self, vm: store.VM, method: str, params: dict[str, Any], timeout: float) -> Any:
        if vm.status not in QEMU_UP:
            raise StateError(f"VM {vm.name!r} is not running (status: {vm.status})")
        return lifecycle.call(self.paths, vm.id, method, params, timeout)

    def runner_alive(self, ident: str) -> bool:
        """Does the runner on record still run (same PID and start time)?"""
        vm = self._vm(ident, reconcile=False)
        return is_alive(vm.runner_pid, vm.runner_started)
