"""The runner's IPC methods (architecture.md, "IPC contract"), acting on a running Runner."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from maqet_tui import ipc_protocol as proto
from maqet_tui.vmstate import RUNNING as LIVE

from .ipc_server import Connection, RequestError
from .qmp_link import ExecInterruptedError, ExecuteError, QMPError

if TYPE_CHECKING:
    from .service import Runner

QMP_TIMEOUT = 60.0
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
            return await self._qmp(command, arguments)
        if method == "stop":
            force, timeout = params.get("force", False), params.get("timeout", 30)
            if (
                not isinstance(timeout, (int, float))
                or isinstance(timeout, bool)
                or not 0 <= timeout <= 3600
            ):
                raise RequestError(proto.BAD_REQUEST, "'timeout' must be a number of seconds")
            return await self.r.stop(bool(force), float(timeout), "stop requested over IPC")
        if method in ("pause", "resume"):
            return await self._pause_resume(method == "pause")
        if method == "console-write":
            data = params.get("data")
            if not isinstance(data, str) or len(data) > 65536:
                raise RequestError(proto.BAD_REQUEST, "'data' must be a string of at most 64 KiB")
            if self.r.console is None or self.r.status not in LIVE:
                raise RequestError(proto.NOT_RUNNING, f"VM {self.r.name!r} is {self.r.status}")
            try:
                return {"written": await self.r.console.write(data)}
            except ConnectionError as exc:
                raise RequestError(proto.NOT_RUNNING, f"serial port closed: {exc}") from None
        raise RequestError(proto.UNKNOWN_METHOD, f"unknown method {method!r}")

    def _subscribe(self, conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
        topics = params.get("topics", list(proto.TOPICS))
        if not isinstance(topics, list) or not all(t in proto.TOPICS for t in topics):
            raise RequestError(proto.BAD_REQUEST, f"'topics' must be a list of {proto.TOPICS}")
        conn.topics |= set(topics)
        # First events, scheduled after the response, so a view starts current: the status and,
        # with "replay", the recent console output (registered in the same step, so no gap).
        soon = asyncio.get_running_loop().call_soon
        if "status" in topics:
            soon(conn.send, {"event": "status", "data": self.r.status_dict()})
        if params.get("replay") is True and "console" in topics and self.r.console is not None:
            tail = self.r.console.tail()[-REPLAY_CHARS:]
            if tail:
                soon(conn.send, {"event": "console", "data": {"text": tail, "replay": True}})
        return {"topics": sorted(conn.topics)}

    def _require_live(self) -> None:
        if self.r.status not in LIVE:
            raise RequestError(proto.NOT_RUNNING, f"VM {self.r.name!r} is {self.r.status}")

    async def _qmp(self, command: str, arguments: dict[str, Any] | None) -> Any:
        self._require_live()
        try:
            return await asyncio.wait_for(self.r.qmp.execute(command, arguments), QMP_TIMEOUT)
        except ExecuteError as exc:
            raise RequestError(proto.QMP_ERROR, str(exc), **{"class": exc.error_class}) from None
        except ExecInterruptedError:
            raise RequestError(proto.NOT_RUNNING, "QEMU exited before answering") from None
        except TimeoutError:
            raise RequestError("timeout", f"QMP {command} took over {QMP_TIMEOUT:.0f} s") from None
        except QMPError as exc:
            raise RequestError(proto.NOT_RUNNING, f"QMP unavailable: {exc}") from None

    async def _pause_resume(self, pause: bool) -> dict[str, Any]:
        want = "paused" if pause else "running"
        if self.r.status == want:
            return self.r.status_dict()
        self._require_live()
        await self._qmp("stop" if pause else "cont", None)
        if self.r.status != want and self.r.status in LIVE:
            self.r.set_status(want)
        return self.r.status_dict()
