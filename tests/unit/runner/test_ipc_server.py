"""The runner's IPC server with a stand-in handler: framing, garbage, limits, subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.protocol import wire as proto
from runner.ipc_server import MAX_BACKLOG, Connection, IPCServer, RequestError


async def handler(conn: Connection, method: str, params: dict[str, Any]) -> Any:
    if method == "ping":
        return "pong"
    if method == "echo":
        return params
    if method == "slow":
        await asyncio.sleep(3600)
    if method == "subscribe":
        conn.topics |= set(params.get("topics", []))
        return {"topics": sorted(conn.topics)}
    if method == "boom":
        raise ZeroDivisionError("bug")
    raise RequestError(proto.UNKNOWN_METHOD, f"unknown method {method!r}")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[IPCServer]:
    srv = IPCServer(tmp_path / "t.sock", handler)
    await srv.start()
    yield srv
    await srv.close()


async def open_client(srv: IPCServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(str(srv.path), limit=4 * proto.MAX_LINE)


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> Any:
    writer.write(raw)
    await writer.drain()
    return json.loads(await asyncio.wait_for(reader.readline(), 5))


async def test_socket_is_private(server: IPCServer) -> None:
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600


async def test_request_response_by_id(server: IPCServer) -> None:
    r, w = await open_client(server)
    assert await ask(r, w, b'{"id": 7, "method": "ping"}\n') == {"id": 7, "result": "pong"}
    assert await ask(r, w, b'{"id": "x", "method": "echo", "params": {"a": 1}}\n') == {
        "id": "x",
        "result": {"a": 1},
    }
    w.close()


@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b"[1, 2]\n",
        b'"str"\n',
        b'{"id": 1}\n',
        b'{"id": 1, "method": 5}\n',
        b'{"id": 1, "method": "ping", "params": [1]}\n',
        b'{"id": [1], "method": "ping"}\n',
        b"\xff\xfe\n",
    ],
)
async def test_garbage_gets_error_with_null_id_and_connection_survives(
    server: IPCServer, line: bytes
) -> None:
    r, w = await open_client(server)
    msg = await ask(r, w, line)
    assert msg["id"] is None and msg["error"]["code"] == proto.BAD_REQUEST
    assert await ask(r, w, b'{"id": 2, "method": "ping"}\n') == {"id": 2, "result": "pong"}
    w.close()


async def test_unknown_method_and_handler_bug_are_errors(server: IPCServer) -> None:
    r, w = await open_client(server)
    msg = await ask(r, w, b'{"id": 1, "method": "nope"}\n')
    assert msg["error"]["code"] == proto.UNKNOWN_METHOD
    msg = await ask(r, w, b'{"id": 2, "method": "boom"}\n')
    assert msg["error"]["code"] == proto.INTERNAL
    assert await ask(r, w, b'{"id": 3, "method": "ping"}\n') == {"id": 3, "result": "pong"}
    w.close()


async def test_over_long_line_is_refused_and_closed(server: IPCServer) -> None:
    r, w = await open_client(server)
    w.write(b'{"id": 1, "method": "echo", "params": {"x": "' + b"a" * (proto.MAX_LINE + 10))
    await w.drain()
    msg = json.loads(await asyncio.wait_for(r.readline(), 5))
    assert msg["error"]["code"] == proto.LINE_TOO_LONG
    assert await asyncio.wait_for(r.read(), 5) == b""  # closed
    # Others are served throughout.
    r2, w2 = await open_client(server)
    assert (await ask(r2, w2, b'{"id": 1, "method": "ping"}\n'))["result"] == "pong"
    w2.close()


async def test_slow_request_does_not_block_ping_on_same_connection(server: IPCServer) -> None:
    r, w = await open_client(server)
    w.write(b'{"id": 1, "method": "slow"}\n')
    assert await ask(r, w, b'{"id": 2, "method": "ping"}\n') == {"id": 2, "result": "pong"}
    w.close()


async def test_half_line_then_disconnect_is_harmless(server: IPCServer) -> None:
    _, w = await open_client(server)
    w.write(b'{"id": 1, "meth')
    await w.drain()
    w.close()
    r2, w2 = await open_client(server)
    assert (await ask(r2, w2, b'{"id": 1, "method": "ping"}\n'))["result"] == "pong"
    w2.close()


async def test_subscribers_get_only_their_topics(server: IPCServer) -> None:
    r, w = await open_client(server)
    await ask(r, w, b'{"id": 1, "method": "subscribe", "params": {"topics": ["status"]}}\n')
    server.publish("console", {"text": "hidden"})
    server.publish("status", {"status": "paused"})
    msg = json.loads(await asyncio.wait_for(r.readline(), 5))
    assert msg == {"event": "status", "data": {"status": "paused"}}
    w.close()


async def test_reader_that_never_reads_is_dropped_with_its_backlog_bounded(
    server: IPCServer,
) -> None:
    r, w = await open_client(server)
    await ask(r, w, b'{"id": 1, "method": "subscribe", "params": {"topics": ["console"]}}\n')
    (conn,) = server.connections
    blob = "x" * 65536
    event_size = len(proto.encode({"event": "console", "data": {"text": blob}}))
    peak, sent = 0, 0
    for _ in range(400):  # 25 MiB offered; the client reads nothing
        server.publish("console", {"text": blob})
        if conn.closed:
            break
        sent += 1
        peak = max(peak, conn.writer.transport.get_write_buffer_size())
        await asyncio.sleep(0)  # lets the transport push what the socket takes
    # Dropped once its unread backlog passed the bound, long before the 25 MiB were queued ...
    assert conn.closed and conn.writer.transport.is_closing()
    assert sent < 400
    # ... and the server never held more for it than the bound plus the one event that crossed it.
    assert MAX_BACKLOG < peak <= MAX_BACKLOG + event_size
    # The client gets what the kernel had already taken, then the end (EOF or a reset; a server
    # that kept the connection would time the read out), and others are still served.
    with contextlib.suppress(ConnectionResetError):
        while await asyncio.wait_for(r.read(1 << 20), 5):
            pass
    w.close()
    r2, w2 = await open_client(server)
    assert (await ask(r2, w2, b'{"id": 2, "method": "ping"}\n'))["result"] == "pong"
    w2.close()


async def test_stale_socket_file_is_replaced_but_live_one_refused(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "s.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    srv = IPCServer(path, handler)
    await srv.start()
    try:
        with pytest.raises(RuntimeError, match="in use"):
            await IPCServer(path, handler).start()
    finally:
        await srv.close()
    assert not path.exists()
