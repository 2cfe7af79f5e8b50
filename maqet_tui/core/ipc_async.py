"""An asyncio client for a runner's socket, for front ends that live in an event loop (the TUI).

The blocking `ipc_client` would freeze a UI loop on a slow runner; this one keeps every wait behind
a timeout and turns a runner that goes away (EOF, reset) into the end of the event stream rather
than an exception, because a VM that stops is normal, not an error. No Textual here: the client is
core code and must stay usable (and testable) without the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

from maqet_tui.common import unixsock
from maqet_tui.common.errors import IPCError
from maqet_tui.protocol import wire as proto

CONNECT_TIMEOUT = 2.0
CALL_TIMEOUT = 5.0
# Events waiting for a slow consumer; past this the oldest are dropped so a console flood can
# never grow the front end's memory without bound.
MAX_QUEUED_EVENTS = 10_000
CLOSED = proto.CLOSED


class AsyncIPCClient:
    """One connection to one runner: requests matched to answers by id, plus an event stream.

    A single reader task owns the socket; callers wait on futures, so a pending `call` and an
    `events()` consumer can share the connection.
    """

    def __init__(
        self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.path = path
        self._reader = reader
        self._writer = writer
        self._ids = count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._closed_reason: str | None = None
        self._read_task = asyncio.create_task(self._read_loop(), name=f"ipc-read {path}")

    @classmethod
    async def connect(cls, path: str | Path, timeout: float = CONNECT_TIMEOUT) -> AsyncIPCClient:
        spath = str(path)
        try:
            # A Unix connect is quick (it waits only on a full backlog, bounded by `timeout`), so
            # it is made here, with the long-path handling of unixsock, and handed to asyncio.
            sock = unixsock.connected(spath, timeout)
            sock.setblocking(False)
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(sock=sock, limit=proto.MAX_LINE + 1), timeout
            )
        except FileNotFoundError:
            raise IPCError(f"runner socket {spath} not found", proto.NOT_RUNNING) from None
        except ConnectionRefusedError:
            raise IPCError(f"runner socket {spath} is stale", proto.NOT_RUNNING) from None
        except TimeoutError:
            raise IPCError(
                f"runner at {spath} did not accept in {timeout:g} s", proto.TIMEOUT
            ) from None
        except OSError as exc:
            raise IPCError(
                f"cannot connect to {spath}: {exc.strerror or exc}", proto.IPC_ERROR
            ) from None
        return cls(spath, reader, writer)

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    async def __aenter__(self) -> AsyncIPCClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = CALL_TIMEOUT
    ) -> Any:
        """Send one request and wait for its answer; raises IPCError (never hangs past timeout)."""
        if self._closed_reason is not None:
            raise IPCError(f"runner at {self.path}: {self._closed_reason}", CLOSED)
        req_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            self._writer.write(
                proto.encode({"id": req_id, "method": method, "params": params or {}})
            )
            await asyncio.wait_for(self._writer.drain(), timeout)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise IPCError(
                f"runner at {self.path} did not answer {method} in time", proto.TIMEOUT
            ) from None
        except (ConnectionError, OSError) as exc:
            raise IPCError(f"runner at {self.path} went away: {exc}", CLOSED) from None
        finally:
            self._pending.pop(req_id, None)
            # If we left through a failed drain, _shut may have failed the future meanwhile:
            # consume that exception so asyncio does not report it as never retrieved.
            if fut.done():
                if not fut.cancelled():
                    fut.exception()
            else:
                fut.cancel()

    async def subscribe(
        self, topics: list[str], replay: bool = False, timeout: float = CALL_TIMEOUT
    ) -> Any:
        """Events of `topics` from now on; with `replay`, the recent console output first."""
        params: dict[str, Any] = {"topics": topics}
        if replay:
            params["replay"] = True
        return await self.call("subscribe", params, timeout)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Event lines ({"event": ..., "data": ...}) until the runner closes the connection."""
        while True:
            item = await self._events.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        self._shut(CLOSED)
        self._read_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._read_task
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    # -- internals ---------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        reason = "closed the connection"
        try:
            while True:
                try:
                    line = await self._reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    break  # EOF: the runner is gone (or closed us)
                except asyncio.LimitOverrunError:
                    reason = "sent a line over the size limit"
                    break
                except (ConnectionError, OSError) as exc:
                    reason = f"went away: {exc}"
                    break
                self._dispatch(line)
        finally:
            self._shut(reason)

    def _dispatch(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return  # garbage from a peer is not our caller's problem; keep the connection
        if not isinstance(msg, dict):
            return
        if "event" in msg:
            if self._events.qsize() >= MAX_QUEUED_EVENTS:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._events.get_nowait()
            self._events.put_nowait(msg)
            return
        req_id = msg.get("id")
        fut = self._pending.get(req_id) if isinstance(req_id, int) else None
        if fut is None or fut.done():
            return
        if "error" in msg:
            code, text = proto.error_text(msg["error"])
            fut.set_exception(IPCError(text, code))
        else:
            fut.set_result(msg.get("result"))

    def _shut(self, reason: str) -> None:
        if self._closed_reason is not None:
            return
        self._closed_reason = reason
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(IPCError(f"runner at {self.path} {reason}", CLOSED))
        self._events.put_nowait(None)


async def call(
    path: str | Path,
    method: str,
    params: dict[str, Any] | None = None,
    timeout: float = CALL_TIMEOUT,
) -> Any:
    """One request on a fresh connection (connect, ask, close)."""
    client = await AsyncIPCClient.connect(path, timeout=min(timeout, CONNECT_TIMEOUT))
    async with client:
        return await client.call(method, params, timeout)
