"""A blocking client for a runner's socket, for the CLI and the manager.

Plain sockets, no asyncio: a CLI call is one short exchange and importing asyncio would cost more
than the exchange itself. The TUI has its own asyncio client (`ipc_async`).
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from maqet_tui.common import unixsock
from maqet_tui.common.errors import IPCError
from maqet_tui.common.procs import process_state
from maqet_tui.protocol import wire as proto

HEARTBEAT = 2.0  # seconds a runner may take to answer a ping before it counts as hung


class IPCClient:
    """One connection; many requests. Not thread-safe: use one per thread."""

    def __init__(self, path: str | Path, timeout: float = 5.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._ids = count(1)
        try:
            self._sock = unixsock.connected(self.path, timeout)
        except FileNotFoundError:
            raise IPCError(f"runner socket {self.path} not found", proto.NOT_RUNNING) from None
        except ConnectionRefusedError:
            raise IPCError(
                f"runner socket {self.path} is stale (nobody listens)", proto.NOT_RUNNING
            ) from None
        except TimeoutError:
            raise IPCError(f"runner at {self.path} did not accept in time", proto.TIMEOUT) from None
        except OSError as exc:
            raise IPCError(
                f"cannot connect to {self.path}: {exc.strerror or exc}", proto.IPC_ERROR
            ) from None
        self._buf = b""

    def __enter__(self) -> IPCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def send(self, method: str, params: dict[str, Any] | None = None) -> int:
        req_id = next(self._ids)
        data = proto.encode({"id": req_id, "method": method, "params": params or {}})
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise IPCError(
                f"runner at {self.path} went away: {exc.strerror or exc}", proto.CLOSED
            ) from None
        return req_id

    def read_message(self, timeout: float | None = None) -> dict[str, Any]:
        """The next line from the runner (a response or, after subscribe, an event)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IPCError(f"runner at {self.path} did not answer in time", proto.TIMEOUT)
            if len(self._buf) > proto.MAX_LINE:
                self.close()
                raise IPCError(
                    f"runner at {self.path} sent a line over {proto.MAX_LINE} bytes", proto.CLOSED
                )
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise IPCError(f"runner at {self.path} went away: {exc}", proto.CLOSED) from None
            if not chunk:
                raise IPCError(f"runner at {self.path} closed the connection", proto.CLOSED)
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        msg: dict[str, Any] = json.loads(line)
        return msg

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        return self.result(self.send(method, params), timeout)

    def result(
        self,
        req_id: int,
        timeout: float | None = None,
        tick: Callable[[float], None] | None = None,
    ) -> Any:
        """The answer to `req_id` within `timeout`. While it is awaited the runner is pinged on
        the same connection (it answers requests concurrently): one that does not answer a ping
        within HEARTBEAT is hung (SIGSTOPped, wedged) and reported as such at once, naming its
        pid and state, instead of after the whole timeout. `tick(waited)` is called about every
        second of waiting (for progress messages)."""
        start = time.monotonic()
        deadline = start + (timeout if timeout is not None else self.timeout)
        ping: tuple[int, float] | None = None
        next_ping = start + HEARTBEAT
        next_tick = start + 1.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise IPCError(f"runner at {self.path} did not answer in time", proto.TIMEOUT)
            if ping is not None and now - ping[1] >= HEARTBEAT:
                raise IPCError(self._unresponsive(), proto.UNRESPONSIVE)
            if ping is None and now >= next_ping:
                ping = (self.send("ping"), now)
            if tick is not None and now >= next_tick:
                tick(now - start)
                next_tick = now + 1.0
            wake = min(deadline, next_tick if tick else deadline)
            wake = min(wake, ping[1] + HEARTBEAT if ping else next_ping)
            try:
                msg = self.read_message(max(0.01, wake - now))
            except IPCError as exc:
                if exc.code == proto.TIMEOUT:
                    continue
                raise
            if ping is not None and msg.get("id") == ping[0]:
                ping, next_ping = None, time.monotonic() + HEARTBEAT
                continue
            if msg.get("id") != req_id or "event" in msg:
                continue  # an event interleaved with our answer
            if "error" in msg:
                code, text = proto.error_text(msg["error"])
                raise IPCError(text, code)
            return msg.get("result")

    def peer_pid(self) -> int | None:
        try:
            raw = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        except OSError:
            return None
        return int(struct.unpack("3i", raw)[0])

    def _unresponsive(self) -> str:
        pid = self.peer_pid()
        if pid is None:
            return f"the runner at {self.path} does not answer"
        return f"the runner (pid {pid}) does not answer (process state: {process_state(pid)})"


def call(
    path: str | Path, method: str, params: dict[str, Any] | None = None, timeout: float = 5.0
) -> Any:
    with IPCClient(path, timeout=timeout) as c:
        return c.call(method, params, timeout=timeout)
