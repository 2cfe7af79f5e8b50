"""The runner's life: claim the VM, bring QEMU's monitor up, serve IPC, follow events, stop, record.

Status rules (architecture.md): pauses and resumes made by anyone show, because they follow QMP
events; a guest that powers itself off ends `stopped`; a QEMU that dies by signal or error ends
`crashed` with the reason; an explicit stop ends `stopped` whatever it took (even the final kill).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maqet_tui.common.procs import start_time
from maqet_tui.common.vmstate import STOP_REQUESTED

from . import store_io
from .api import RunnerAPI
from .console import Console
from .ipc_server import IPCServer
from .qemu import QemuProcess
from .qmp_link import ExecuteError, QMPError, QmpLink
from .stats import StatsSampler, interval, sampler_for
from .store_io import StoreIO
from .upkeep import adopt_row, heal_socket, register
from .verdict import describe_exit, final_state, start_failure

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import LaunchSpec, Readiness, ReadyReport, RunnerStatus

    from .guest_watch import GuestWatch

log = logging.getLogger("runner")

STORE_POLL = 0.25  # seconds between "did the store change?" probes (one cheap PRAGMA)
GREETING_TIMEOUT = 30.0
STORE_STOP_TIMEOUT = 10.0


class Runner:
    def __init__(self, spec: LaunchSpec, qemu: QemuProcess | None, ready_fd: int) -> None:
        self.spec = spec
        self.vm_id: str = spec["vm_id"]
        self.name: str = spec["name"]
        self.token: str = spec["start_token"]
        self.socket_path = Path(spec["socket_path"])
        self.serial_log = Path(spec["serial_log"])
        self.qemu = qemu
        self.ready_fd: int | None = ready_fd
        self.pid = os.getpid()
        self.started_ticks = start_time(self.pid)
        self.status = "starting"
        self.last_error: str | None = None
        self.started_at: float | None = None
        self.store = StoreIO(Path(spec["db_path"]), self.vm_id, spec["db_identity"])
        self.api = RunnerAPI(self)
        self.ipc = IPCServer(self.socket_path, self.api.handle)
        self.qmp = QmpLink(f"maqet-{self.name}")
        self.console: Console | None = None
        self.stats: StatsSampler | None = None
        self.guest: GuestWatch | None = None  # the agent's view (VMs defined with agent: true)
        self.exited = asyncio.Event()
        self.final = asyncio.Event()
        self.force_now = asyncio.Event()
        self.stderr_done = asyncio.Event()
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.exit_rc: int | None = None
        self.stop_task: asyncio.Task[None] | None = None
        self.stop_reason: str | None = None
        self.record_final = True
        self.shutdown_data: dict[str, Any] | None = None
        self.ready = False
        self._tasks: list[asyncio.Task[Any]] = []

    # -- views -------------------------------------------------------------------------------
    def status_dict(self) -> RunnerStatus:
        return {
            "id": self.vm_id,
            "name": self.name,
            "status": self.status,
            "last_error": self.last_error,
            "qemu_pid": self.qemu.pid if self.qemu and self.exit_rc is None else None,
            "runner_pid": self.pid,
            "socket_path": str(self.socket_path),
            "started_at": self.started_at,
        }

    # -- start-up ----------------------------------------------------------------------------
    async def main(self, early_error: str | None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if early_error or self.qemu is None:
            return await self._abort_start(early_error or "QEMU did not start")
        self._watch_exit(loop, self.qemu.pid)
        self._spawn(self._read_stderr(self.qemu))
        self.console = Console(self.qemu.serial, self.serial_log, self.ipc.publish)
        self._spawn(self.console.run())
        if not await self._connect_qmp(self.qemu):
            return await self._abort_start(
                start_failure(self.name, self.stop_reason, self.exit_rc, self.stderr_tail)
            )
        try:
            await self.ipc.start()
        except (OSError, RuntimeError) as exc:
            return await self._abort_start(f"cannot serve {self.socket_path}: {exc}")
        if self.qemu.qga is not None:
            self._watch_guest(self.qemu.qga)
        self._spawn(self._follow_events())
        self.stats = sampler_for(self.qemu.pid, self.qmp, self.ipc.publish)
        self._spawn(self.stats.run(interval()))
        self.started_at = time.time()
        self.status = "running"
        with contextlib.suppress(ExecuteError, QMPError):
            if (await self.qmp.execute("query-status")).get("status") in ("paused", "prelaunch"):
                self.status = "paused"  # e.g. started with -S
        # Ready before any store write: the starter (which has the store loaded already) records
        # what we report, and so do we, whichever comes first (see store.claim_running).
        self.ready = True
        self._report(self.ready_report())
        # The claim may wait on a busy or full store: it must not hold up a stop meanwhile.
        self._spawn(self._claim())
        await self.exited.wait()
        return await self._finish()

    def _watch_guest(self, sock: socket.socket) -> None:
        # Imported here: a VM without an agent channel (most) never loads the agent's code.
        from .guest_agent_link import GuestAgentLink
        from .guest_watch import GuestWatch, poll_interval

        self.guest = GuestWatch(GuestAgentLink(sock), self.ipc.publish, poll_interval())
        self._spawn(self.guest.run())

    async def _claim(self) -> None:
        if not await self.store.write(self._claim_running):
            log.warning("the VM was removed, stopped or re-owned while starting")
            self.record_final = False
            if self.stop_task is None:
                await self._stop_sequence(True, 0)
        else:
            self.ipc.publish("status", self.status_dict())
            self._spawn(self._watch_store())

    def ready_report(self) -> ReadyReport:
        """What the starter records (rows.claim): this runner, its QEMU and where it serves."""
        return {"ok": True, **self.status_dict(), "runner_started": self.started_ticks}

    def _claim_running(self) -> bool:
        """On the store thread: record this runner if its start still owns the row (the report
        reads the status current at that moment)."""
        if self.store.replaced():  # the database went away as we came up: register there
            self.name = store_io.adopt(adopt_row(self))
            return True
        return store_io.claim_running(self.vm_id, self.token, self.ready_report())

    async def _connect_qmp(self, qemu: QemuProcess) -> bool:
        connect = asyncio.ensure_future(self.qmp.connect(qemu.qmp))
        exited = asyncio.ensure_future(self.exited.wait())
        done, _ = await asyncio.wait(
            {connect, exited}, timeout=GREETING_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        exited.cancel()
        if connect in done and connect.exception() is None and not self.exited.is_set():
            return True
        connect.cancel()
        if not self.exited.is_set():
            qemu.kill()
            self.stderr_tail.append(f"no QMP greeting within {GREETING_TIMEOUT:.0f} s")
            await self.exited.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stderr_done.wait(), 2.0)
        return False

    async def _abort_start(self, message: str, record: bool = True) -> int:
        log.error("%s", message)
        if self.qemu and self.exit_rc is None:
            self.qemu.kill()
            self.exit_rc = await asyncio.get_running_loop().run_in_executor(
                None, self.qemu.popen.wait
            )
        cancelled = self.stop_reason is not None
        self._report({"ok": False, "error": message})
        if record:  # the starter records this too, from the report: best effort here
            try:
                await self.store.call(
                    store_io.end_start,
                    self.vm_id,
                    self.token,
                    "stopped" if cancelled else "crashed",
                    None if cancelled else message,
                )
            except Exception as exc:
                log.warning("could not record the failed start: %s", exc)
        await self._teardown()
        return 1

    def _report(self, obj: Readiness) -> None:
        """Tell the starter how start-up ended (it waits on this pipe instead of polling)."""
        if self.ready_fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.ready_fd, json.dumps(obj).encode() + b"\n")
        with contextlib.suppress(OSError):
            os.close(self.ready_fd)
        self.ready_fd = None

    # -- running -----------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def _watch_exit(self, loop: asyncio.AbstractEventLoop, pid: int) -> None:
        fd = os.pidfd_open(pid)

        def on_exit() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            assert self.qemu is not None
            self.qemu.kill()  # what it leaves in its group (a wrapper's QEMU), before reaping it
            self.exit_rc = self.qemu.popen.wait()
            log.info("QEMU exited (%s)", describe_exit(self.exit_rc))
            self.exited.set()

        loop.add_reader(fd, on_exit)

    async def _read_stderr(self, qemu: QemuProcess) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        assert qemu.popen.stderr is not None
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), qemu.popen.stderr
        )
        try:
            async for raw in reader:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    log.info("qemu: %s", line)
                    self.stderr_tail.append(line)
        finally:
            self.stderr_done.set()

    async def _follow_events(self) -> None:
        async for ev in self.qmp.events():
            name = str(ev.get("event", "?"))
            self.ipc.publish("qmp-event", ev)
            if self.guest is not None:
                self.guest.on_qmp_event(ev)
            self.store.record(store_io.add_event, self.vm_id, "qmp", name, ev)
            if name == "STOP" and self.status == "running":
                self.set_status("paused")
            elif name == "RESUME" and self.status == "paused":
                self.set_status("running")
            elif name == "SHUTDOWN":
                self.shutdown_data = ev.get("data") or {}

    async def _watch_store(self) -> None:
        while True:
            await asyncio.sleep(STORE_POLL)
            if not self.ipc.intact():
                await heal_socket(self)
            try:
                row = await self.store.call(self.store.changed_row)
            except Exception as exc:  # a store fault is no reason to stop a VM
                log.warning("cannot read the store: %s", exc)
                continue
            if row is None:
                continue
            if row.replaced:
                await register(self)
                continue
            if not row.exists:
                self._spawn(self.stop(True, 0, "the VM was deleted from the store", record=False))
                return
            if row.runner_pid != self.pid:
                self._spawn(self.stop(True, 0, "another runner owns the VM now", record=False))
                return
            if row.status in STOP_REQUESTED and self.stop_task is None:
                self._spawn(
                    self.stop(
                        row.status == "stopped",
                        STORE_STOP_TIMEOUT,
                        f"status set to {row.status} through the store",
                    )
                )

    def set_status(self, status: str, last_error: str | None = None, **fields: Any) -> None:
        """Now for IPC subscribers; in the store as soon as it takes the write (queued, in
        order, retried: see StoreIO.record)."""
        self.status, self.last_error = status, last_error
        self.ipc.publish("status", self.status_dict())
        self.store.record(
            store_io.update_vm,
            self.vm_id,
            expect_runner=self.pid,
            status=status,
            last_error=last_error,
            **fields,
        )

    # -- stopping ----------------------------------------------------------------------------
    def _on_signal(self, sig: int) -> None:
        reason = f"runner received {signal.Signals(sig).name}"
        if not self.ready:
            self.stop_reason = reason
            if self.qemu and self.exit_rc is None:
                self.qemu.kill()
            return
        self._spawn(self.stop(True, 0, reason))

    async def stop(
        self, force: bool, timeout: float, reason: str, record: bool = True
    ) -> RunnerStatus:
        if not record:
            self.record_final = False
        if self.stop_task is None:
            log.info("stopping (%s, %s)", reason, "force" if force else f"grace {timeout:g} s")
            self.stop_reason = reason
            self.stop_task = asyncio.ensure_future(self._stop_sequence(force, timeout))
        elif force:
            self.force_now.set()
        await self.final.wait()
        return self.status_dict()

    async def _wait_exit(self, timeout: float, interruptible: bool = False) -> bool:
        waits = [asyncio.ensure_future(self.exited.wait())]
        if interruptible:
            waits.append(asyncio.ensure_future(self.force_now.wait()))
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        return self.exited.is_set()

    async def _stop_sequence(self, force: bool, timeout: float) -> None:
        if self.record_final:
            self.set_status("stopping")
        if not force:
            with contextlib.suppress(QMPError, TimeoutError, OSError):
                await asyncio.wait_for(self.qmp.execute("system_powerdown"), 5)
            if await self._wait_exit(timeout, interruptible=True):
                return
        with contextlib.suppress(QMPError, TimeoutError, OSError):
            await asyncio.wait_for(self.qmp.execute("quit"), 3)
        if await self._wait_exit(3):
            return
        log.warning("QEMU ignored quit; killing it")
        assert self.qemu is not None
        self.qemu.kill()
        await self._wait_exit(10)

    async def _finish(self) -> int:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stderr_done.wait(), 1.0)
        self.status, self.last_error = final_state(
            self.stop_reason, self.exit_rc, self.shutdown_data, self.stderr_tail
        )
        log.info("final status %s (%s)", self.status, self.last_error or self.stop_reason or "-")
        if self.record_final:
            self.set_status(
                self.status,
                self.last_error,
                qemu_pid=None,
                runner_pid=None,
                runner_started=None,
                socket_path=None,
                started_at=None,
            )
        else:
            self.ipc.publish("status", self.status_dict())
        self.final.set()  # answers a waiting `stop`: QEMU is gone, whatever the store does
        await self.store.flush()  # the record lands before the runner goes (retried until then)
        await self._teardown()
        return 0

    async def _teardown(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.qmp.close()
        await self.ipc.close()
        await self.store.shutdown()
