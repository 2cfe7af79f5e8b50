"""The Python API both front ends sit on: add, list, get, start, stop, pause, resume, qmp, remove.

Every call is synchronous and safe to make from several processes at once; state lives in the
store and in the runners, never in this object. Importing it pulls in no Textual and no asyncio.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from . import ipc_client, store, vmlock
from .config import VMConfig, build_argv, validate_name
from .errors import ConfigError, IPCError, StateError, TimeoutError_
from .paths import Paths
from .procs import is_alive, signal_if_same, wait_gone
from .reconcile import reconcile_all, reconcile_vm
from .spawn import Launch, launch, wait_ready
from .vmstate import RUNNING

DEFAULT_START_TIMEOUT = 30.0
DEFAULT_STOP_TIMEOUT = 30.0
MAX_STOP_TIMEOUT = 3600.0
UNREACHABLE = ("not-running", "closed", "timeout", "ipc-error")
WAIT_STEP = 0.02


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
        return reconcile_all(self.paths)

    def list(self) -> builtins.list[dict[str, Any]]:
        store.open_db(self.paths.db)
        return [vm.to_dict() for vm in store.all_vms()]

    def get(self, ident: str) -> dict[str, Any]:
        return self._vm(ident).to_dict()

    def events(self, ident: str, limit: int = 50) -> builtins.list[dict[str, Any]]:
        return store.recent_events(self._vm(ident).id, limit)

    def _vm(self, ident: str, reconcile: bool = True) -> store.VM:
        store.open_db(self.paths.db)
        vm = store.find(ident)
        return reconcile_vm(self.paths, vm) if reconcile else vm

    # -- definitions -------------------------------------------------------------------------
    def add(self, name: str, config: dict[str, Any], base: Path | None = None) -> dict[str, Any]:
        validate_name(name)
        cfg = VMConfig.from_dict(config, base=base)
        store.open_db(self.paths.db)
        return store.insert_vm(name, cfg.to_dict()).to_dict()

    def set_config(self, ident: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a stopped VM's definition; the merged result is validated as a whole.

        A live VM is refused rather than edited under its feet: QEMU could not apply most changes
        anyway, and a definition that differs from what runs would mislead.
        """
        with store.immediate():
            vm = store.find(ident)
            if vm.status in store.LIVE_STATUSES:
                raise StateError(f"VM {vm.name!r} is {vm.status}; stop it before editing")
            cfg = VMConfig.from_dict({**json.loads(vm.config), **changes})
            store.update_vm(vm.id, config=json.dumps(cfg.to_dict()))
        return self.get(vm.id)

    def remove(self, ident: str, force: bool = False, delete_disks: bool = False) -> dict[str, Any]:
        """Forget a VM. Its data directory (disks we created) is kept unless `delete_disks`;
        the result's `kept` lists what stays on disk so the caller can say where."""
        vm = self._vm(ident)
        if vm.status in store.LIVE_STATUSES:
            if not force:
                raise StateError(f"VM {vm.name!r} is {vm.status}; stop it first or use --force")
            self.stop(vm.id, force=True)
        store.delete_vm(vm.id)
        lock_fd = vmlock.try_lock(self.paths.lock(vm.id))
        if lock_fd is not None:  # tidy the runtime dir; never a lock a runner holds
            vmlock.release(lock_fd, self.paths.lock(vm.id))
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

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, ident: str, timeout: float = DEFAULT_START_TIMEOUT) -> dict[str, Any]:
        """Start the VM and return once QMP answers; a running VM is left alone (idempotent).

        Two racing starts are settled by the VM lock: one spawns the runner, the other waits for
        it and returns the same answer.
        """
        deadline = time.monotonic() + timeout
        while True:
            vm = self._vm(ident)
            if vm.status in RUNNING:
                return vm.to_dict()
            lock_path = self.paths.lock(vm.id)
            fd = vmlock.try_lock(lock_path)
            if fd is None:
                self._wait_other(vm.id, lock_path, deadline, f"start of {vm.name!r}")
                continue
            run: Launch | None = None
            try:
                with store.immediate():
                    row = store.get_by_id(vm.id)
                    if row is None:
                        raise StateError(f"VM {vm.name!r} was removed")
                    # Checked before the row says "starting": a bad stored definition is an error
                    # here, not a runner that dies. Missing files are left for QEMU to report.
                    cfg = VMConfig.from_dict(json.loads(row.config), check_files=False)
                    argv = build_argv(vm.id, vm.name, cfg)
                    store.update_vm(
                        vm.id,
                        status="starting",
                        last_error=None,
                        qemu_pid=None,
                        runner_pid=None,
                        runner_started=None,
                        socket_path=None,
                        started_at=None,
                    )
                run = launch(self.paths, vm.id, vm.name, argv, fd)
                os.close(fd)  # the runner holds its own copy from here on
                remaining = max(1.0, deadline - time.monotonic())
                store.claim_reported(vm.id, wait_ready(run, vm.name, remaining))
            except TimeoutError_:
                self.abandon_start(vm.id)
                raise
            finally:
                if run is None:  # failed before a runner took the lock over
                    vmlock.release(fd, lock_path)
            return self.get(vm.id)

    def _wait_other(self, vm_id: str, lock_path: Path, deadline: float, what: str) -> None:
        """Another process holds the VM lock: wait until it is running or the lock is free."""
        while time.monotonic() < deadline:
            row = store.get_by_id(vm_id)
            if row is None:
                raise StateError(f"{what}: the VM was removed")
            if row.status in RUNNING or not vmlock.is_held(lock_path):
                return
            time.sleep(WAIT_STEP)
        raise TimeoutError_(f"{what} did not finish in time (another process is starting it)")

    def abandon_start(self, vm_id: str) -> None:
        """A start that timed out must not come up later behind the user's back: a runner that
        has not recorded itself yet finds the row no longer waiting for it (claim refused) and
        stops its QEMU; one that has is killed."""
        with store.immediate():
            row = store.get_by_id(vm_id)
            if row is None:
                return
            if row.runner_pid is None and row.status in ("starting", "stopped", "crashed"):
                store.update_vm(vm_id, status="crashed", last_error="start timed out")
        pid = row.runner_pid
        if pid is not None and signal_if_same(pid, row.runner_started, signal.SIGKILL):
            wait_gone(pid, 5, row.runner_started)
        reconcile_vm(self.paths, row)

    def stop(
        self, ident: str, force: bool = False, timeout: float = DEFAULT_STOP_TIMEOUT
    ) -> dict[str, Any]:
        """Graceful power-down, then quit, then kill; returns once the runner is gone.

        Idempotent: stopping a stopped VM is not an error.
        """
        if not 0 <= timeout <= MAX_STOP_TIMEOUT:  # NaN fails this too
            raise ConfigError(f"timeout: {timeout} is out of range (0..{MAX_STOP_TIMEOUT:g} s)")
        vm = self._vm(ident)
        if vm.status not in store.LIVE_STATUSES:
            return vm.to_dict()
        if vm.status == "starting":
            self._wait_other(vm.id, self.paths.lock(vm.id), time.monotonic() + 60, "start")
            vm = self._vm(vm.id)
            if vm.status not in store.LIVE_STATUSES:
                return vm.to_dict()
        pid, started = vm.runner_pid, vm.runner_started
        try:
            ipc_client.call(
                vm.socket_path or self.paths.socket(vm.id),
                "stop",
                {"force": force, "timeout": timeout},
                timeout=timeout + 20,
            )
        except IPCError as exc:
            if exc.code not in UNREACHABLE:
                raise  # it answered, with a refusal: say so rather than kill the VM
            # The runner cannot be reached: ask it to go by signal, then through the store.
            if not signal_if_same(pid, started, signal.SIGTERM):
                self._mark_stopping(vm.id)
        if pid is not None and not wait_gone(pid, 15, started):
            signal_if_same(pid, started, signal.SIGKILL)
            wait_gone(pid, 5, started)
        return self._vm(vm.id).to_dict()

    def _mark_stopping(self, vm_id: str) -> None:
        with store.immediate():
            row = store.get_by_id(vm_id)
            if row is not None and row.status in store.LIVE_STATUSES:
                store.update_vm(vm_id, status="stopping")

    def pause(self, ident: str) -> dict[str, Any]:
        self._call_live(ident, "pause")
        return self.get(ident)

    def resume(self, ident: str) -> dict[str, Any]:
        self._call_live(ident, "resume")
        return self.get(ident)

    def reset(self, ident: str) -> dict[str, Any]:
        self._call_live(ident, "qmp", {"command": "system_reset"})
        return self.get(ident)

    def qmp(
        self,
        ident: str,
        command: str,
        arguments: dict[str, Any] | None = None,
        timeout: float = 60.0,
    ) -> Any:
        return self._call_live(
            ident, "qmp", {"command": command, "arguments": arguments}, timeout=timeout
        )

    def console_write(self, ident: str, data: str) -> Any:
        return self._call_live(ident, "console-write", {"data": data})

    def _call_live(
        self, ident: str, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> Any:
        vm = self._vm(ident)
        if vm.status not in RUNNING:
            raise StateError(f"VM {vm.name!r} is not running (status: {vm.status})")
        try:
            return ipc_client.call(
                vm.socket_path or self.paths.socket(vm.id), method, params or {}, timeout=timeout
            )
        except IPCError as exc:
            if exc.code in ("not-running", "closed"):  # it stopped under us: say so plainly
                after = self._vm(vm.id)
                if after.status not in RUNNING:
                    raise StateError(
                        f"VM {vm.name!r} is not running (status: {after.status})"
                    ) from None
            raise

    def runner_alive(self, ident: str) -> bool:
        vm = self._vm(ident, reconcile=False)
        return is_alive(vm.runner_pid, vm.runner_started)
