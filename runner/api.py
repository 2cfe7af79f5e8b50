"""The runner's IPC methods (architecture.md, "IPC contract"), acting on a running Runner."""

from __future__ import annotations

import asyncio
import math
import re
from typing import TYPE_CHECKING, Any

from maqet_tui.common.procs import process_state
from maqet_tui.common.vmstate import QEMU_UP
from maqet_tui.protocol import wire as proto

from .ipc_server import Connection, RequestError
from .qmp_link import (
    ExecInterruptedError,
    ExecuteError,
    QemuNotAnswering,
    QemuTimeout,
    QemuUnresponsive,
    QMPError,
)

if TYPE_CHECKING:
    from maqet_tui.protocol.launch import RunnerStatus

    from .service import Runner

# How long QEMU gets to answer a command, well inside a client's 30 s: when it does not (a stopped
# or wedged QEMU), the error names QEMU rather than leaving the client to blame the runner.
QMP_TIMEOUT = proto.QMP_TIMEOUT_DEFAULT
REPLAY_CHARS = 8192
COMMAND_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RunnerAPI:
    """One method per request; errors are RequestError with a contract error code."""

    def __init__(self, runner: Runner) -> None:
        self.r = runner

    async def handle(self, conn: Connection, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return "pong"
        if method == "status":
            return self.r.status_dict()
        if method == "subscribe":
            return self._subscribe(conn, params)
        if method == "qmp":
            command, arguments = params.get("command"), params.get("arguments")
            if not isinstance(command, str) or not COMMAND_RE.match(command):
                raise RequestError(proto.BAD_REQUEST, "'command' must be a QMP command name")
            if arguments is not None and not isinstance(arguments, dict):
                raise RequestError(proto.BAD_REQUEST, "'arguments' must be an object")
            timeout = params.get("timeout", QMP_TIMEOUT)
            if (
                not isinstance(timeout, (int, float))
                or isinstance(timeout, bool)
                or not 0 < timeout < math.inf
            ):
                raise RequestError(proto.BAD_REQUEST, "'timeout' must be a positive number")
            return await self._qmp(command, arguments, min(float(timeout), proto.QMP_TIMEOUT_MAX))
        if method == "stop":
            force = params.get("force", False)
            timeout = params.get("timeout", proto.STOP_TIMEOUT_DEFAULT)
            if (
                not isinstance(timeout, (int, float))
                or isinstance(timeout, bool)
                or not 0 <= timeout <= proto.STOP_TIMEOUT_MAX
            ):
                raise RequestError(proto.BAD_REQUEST, "'timeout' must be a number of seconds")
            return await self.r.stop(bool(force), float(timeout), "stop requested over IPC")
        if method in ("pause", "resume"):
            return await self._pause_resume(method == "pause")
        if method == "console-write":
            data = params.get("data")
            if not isinstance(data, str) or len(data) > proto.CONSOLE_WRITE_MAX:
                raise RequestError(
                    proto.BAD_REQUEST,
                    f"'data' must be a string of at most {proto.CONSOLE_WRITE_MAX} characters",
                )
            if self.r.console is None:
                raise self._not_running()
            self._require_live()
            try:
                return {"written": await self.r.console.write(data)}
            except ConnectionError as exc:
                raise RequestError(proto.NOT_RUNNING, f"serial port closed: {exc}") from None
        if method == "guest":
            return self._guest_state()
        if method == "guest-exec":
            self._require_live()
            from .guest_exec import guest_exec  # only VMs with an agent use it: see service.py

            return await guest_exec(self.r.guest, self.r.name, params)
        raise RequestError(proto.UNKNOWN_METHOD, f"unknown method {method!r}")

    def _subscribe(self, conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
        topics = params.get("topics", list(proto.DEFAULT_TOPICS))
        if not isinstance(topics, list) or not all(t in proto.TOPICS for t in topics):
            raise RequestError(proto.BAD_REQUEST, f"'topics' must be a list of {proto.TOPICS}")
        replay = params.get("replay") is True and "console" in topics and self.r.console is not None
        conn.topics |= set(topics) - ({"console"} if replay else set())
        # First events, scheduled after the response, so a view starts current: the status and,
        # with "replay", the recent console output. The console topic joins in the same step as
        # the replay is cut, after the output waiting to be sent went to the others: no gap, no
        # line twice, and nothing live ahead of the replay.
        soon = asyncio.get_running_loop().call_soon
        if "status" in topics:
            soon(conn.send, {"event": "status", "data": self.r.status_dict()})
        if replay:
            soon(self._replay_console, conn)
        if "guest" in topics:
            soon(conn.send, {"event": "guest", "data": self._guest_state()})
        if "stats" in topics and self.r.stats is not None:
            history = self.r.stats.history()
            soon(conn.send, {"event": "stats", "data": {"samples": history, "replay": True}})
        return {"topics": sorted(conn.topics | set(topics))}

    def _replay_console(self, conn: Connection) -> None:
        if self.r.console is not None:
            self.r.console.flush()
            tail = self.r.console.tail()[-REPLAY_CHARS:]
            if tail:
                conn.send({"event": "console", "data": {"text": tail, "replay": True}})
        conn.topics.add("console")

    def _guest_state(self) -> dict[str, Any]:
        if self.r.guest is None:  # no agent channel: the guest modules are not even loaded
            return proto.no_guest()
        return dict(self.r.guest.state)

    def _require_live(self) -> None:
        if self.r.status not in QEMU_UP:
            raise self._not_running()

    def _not_running(self) -> RequestError:
        # The same words the CLI uses when the store says so (architecture.md, "Errors"): which
        # of the two noticed first is a race, and the user should not see two messages for it.
        return RequestError(
            proto.NOT_RUNNING, f"VM {self.r.name!r} is not running (status: {self.r.status})"
        )

    async def _qmp(
        self,
        command: str,
        arguments: dict[str, Any] | None,
        timeout: float = QMP_TIMEOUT,
        undo: str | None = None,
    ) -> Any:
        self._require_live()
        try:
            return await self.r.qmp.call(command, arguments, timeout=timeout, undo=undo)
        except ExecuteError as exc:
            raise RequestError(proto.QMP_ERROR, str(exc), **{"class": exc.error_class}) from None
        except ExecInterruptedError:
            raise RequestError(proto.NOT_RUNNING, "QEMU exited before answering") from None
        except QemuNotAnswering as exc:
            raise RequestError(proto.QEMU_TIMEOUT, self._not_answering(exc, undo)) from None
        except QMPError as exc:
            raise RequestError(proto.NOT_RUNNING, f"QMP unavailable: {exc}") from None

    def _not_answering(self, exc: QemuNotAnswering, undo: str | None) -> str:
        qemu = self.r.qemu
        who = f"QEMU (pid {qemu.pid})" if qemu else "QEMU"
        state = f" (process state: {process_state(qemu.pid)})" if qemu else ""
        if isinstance(exc, QemuTimeout):
            after = (
                f"if it runs {exc.command!r} later, the runner undoes it with {undo!r}"
                if undo
                else f"QEMU may still run {exc.command!r} when it resumes"
            )
            return f"{who} did not answer {exc.command!r} within {exc.timeout:g} s{state}; {after}"
        assert isinstance(exc, QemuUnresponsive)
        return (
            f"{who} has not answered {exc.pending!r} for {exc.waited:.0f} s{state}; "
            f"{exc.command!r} not sent until it does"
        )

    async def _pause_resume(self, pause: bool) -> RunnerStatus:
        want = "paused" if pause else "running"
        if self.r.status == want:
            return self.r.status_dict()
        self._require_live()
        # Either, answered too late, is undone by the other: the caller was told it failed.
        await self._qmp("stop" if pause else "cont", None, undo="cont" if pause else "stop")
        if self.r.status != want and self.r.status in QEMU_UP:
            self.r.set_status(want)
        return self.r.status_dict()
