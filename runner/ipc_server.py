"""The runner's Unix socket: JSON Lines requests, responses by id, and event subscriptions.

Robustness rules from the contract: garbage gets an error with `"id": null` and the connection stays
usable; an over-long line gets an error and the connection is closed; a peer of another uid (not
root) is refused; a subscriber that stops reading is dropped once its backlog passes a bound, so one
slow client can neither stall the runner nor grow its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from maqet_tui.common import unixsock
from maqet_tui.protocol import wire as proto

log = logging.getLogger("runner.ipc")

MAX_BACKLOG = 4 << 20  # bytes queued to one client before it is dropped
MAX_CLIENTS = 256


class RequestError(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra


Handler = Callable[["Connection", str, dict[str, Any]], Awaitable[Any]]


class Connection:
    def __init__(self, writer: asyncio.StreamWriter, peer_pid: int) -> None:
        self.writer = writer
        self.peer_pid = peer_pid
        self.topics: set[str] = set()
        self.closed = False

    def send(self, obj: dict[str, Any]) -> None:
        if self.closed:
            return
        transport = self.writer.transport
        if transport.is_closing():
            self.closed = True
            return
        if transport.get_write_buffer_size() > MAX_BACKLOG:
            log.warning("dropping client pid %s: %d bytes unread", self.peer_pid, MAX_BACKLOG)
            self.close()
            return
        self.writer.write(proto.encode(obj))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()


class IPCServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self.connections: set[Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inode: int | None = None
        self._serving: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._clear_stale_path()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born 0600: no window where others could connect
        try:
            unixsock.bind(sock, self.path)
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        finally:
            os.umask(old)
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=proto.MAX_LINE)
        self._inode = os.stat(self.path).st_ino

    def intact(self) -> bool:
        """Is our socket file still at its path? Removed runtime directories (logind at logout,
        a /tmp cleaner, `rm -rf`) take it away while the listening socket itself lives on."""
        try:
            return os.stat(self.path).st_ino == self._inode
        except OSError:
            return False

    async def rebind(self, path: Path) -> None:
        """Serve at `path` (the old path, again, or a fallback): a new listening socket; the old
        one stops accepting, and connections made through it carry on."""
        old_server, old_inode, old_path = self._server, self._inode, self.path
        self.path = path
        await self.start()
        if old_server is not None:
            old_server.close()
        with contextlib.suppress(OSError):
            if old_path != path and os.stat(old_path).st_ino == old_inode:
                os.unlink(old_path)

    def _clear_stale_path(self) -> None:
        if not os.path.lexists(self.path):
            return
        try:
            unixsock.connected(self.path, 0.5).close()
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # a dead runner's leftover
            return
        except OSError:
            pass
        raise RuntimeError(f"socket {self.path} is in use by another live process")

    def publish(self, topic: str, data: Mapping[str, Any]) -> None:
        msg = {"event": topic, "data": data}
        for conn in list(self.connections):
            if topic in conn.topics:
                conn.send(msg)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # Only ever unlink the socket we bound: never one another process put there.
        with contextlib.suppress(FileNotFoundError):
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        # Let in-flight answers (a stop waiting for the end, say) be written, then flushed.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.writer.drain(), 0.5)
            conn.writer.close()
        for t in list(self._tasks):
            t.cancel()
        # Closed transports end each connection's read loop; let them finish rather than be
        # cancelled mid-read by the loop's shutdown.
        if self._serving:
            await asyncio.wait(list(self._serving), timeout=1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        pid, uid, _gid = struct.unpack(
            "3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        )
        conn = Connection(writer, pid)
        me = asyncio.current_task()
        if me is not None:
            self._serving.add(me)
            me.add_done_callback(self._serving.discard)
        if uid not in (os.getuid(), 0):
            log.warning("refused connection from pid %s uid %s", pid, uid)
            conn.send(proto.error(None, proto.PERMISSION_DENIED, f"uid {uid} may not use this VM"))
            await self._close_after_flush(conn)
            return
        if len(self.connections) >= MAX_CLIENTS:
            conn.send(proto.error(None, proto.BUSY, "too many clients"))
            await self._close_after_flush(conn)
            return
        self.connections.add(conn)
        try:
            await self._read_loop(reader, conn)
        finally:
            self.connections.discard(conn)
            conn.close()

    async def _close_after_flush(self, conn: Connection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.drain(), 1.0)
        conn.writer.close()

    async def _read_loop(self, reader: asyncio.StreamReader, conn: Connection) -> None:
        while not conn.closed:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                conn.send(
                    proto.error(
                        None, proto.LINE_TOO_LONG, f"request line exceeds {proto.MAX_LINE} bytes"
                    )
                )
                await self._close_after_flush(conn)
                return
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if not line.strip():
                continue
            try:
                req_id, method, params = proto.parse_request(line)
            except ValueError as exc:
                conn.send(proto.error(None, proto.BAD_REQUEST, str(exc)))
                continue
            # Each request runs on its own so a slow one (stop) never blocks a ping behind it.
            task = asyncio.create_task(self._answer(conn, req_id, method, params))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(
        self, conn: Connection, req_id: Any, method: str, params: dict[str, Any]
    ) -> None:
        try:
            result = await self.handler(conn, method, params)
        except RequestError as exc:
            conn.send(proto.error(req_id, exc.code, str(exc), **exc.extra))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not take the runner down with it
            log.exception("request %s failed", method)
            conn.send(proto.error(req_id, proto.INTERNAL, f"{type(exc).__name__}: {exc}"))
        else:
            conn.send({"id": req_id, "result": result})
