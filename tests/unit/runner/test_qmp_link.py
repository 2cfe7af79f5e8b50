"""The runner's QMP client against a fake QMP server on a socketpair (no QEMU here)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from runner.qmp_link import ExecuteError, QmpLink

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}


async def fake_qemu(sock: socket.socket, events: list[dict[str, Any]]) -> None:
    """Speaks enough QMP: greeting, capabilities, query-status, stop (+STOP event), errors.

    qemu.qmp writes JSON without newlines, so requests are stream-parsed.
    """
    reader, writer = await asyncio.open_connection(sock=sock)

    def send(obj: dict[str, Any]) -> None:
        writer.write(json.dumps(obj).encode() + b"\r\n")

    send(GREETING)
    buf, dec = "", json.JSONDecoder()
    while chunk := await reader.read(4096):
        buf += chunk.decode()
        while buf.strip():
            try:
                req, end = dec.raw_decode(buf.lstrip())
            except json.JSONDecodeError:
                break
            buf = buf.lstrip()[end:]
            cmd, rid = req["execute"], req.get("id")
            if cmd in ("qmp_capabilities", "cont"):
                send({"return": {}, "id": rid})
            elif cmd == "query-status":
                send({"return": {"status": "running", "running": True}, "id": rid})
            elif cmd == "stop":
                for ev in events:
                    send(ev)
                send({"return": {}, "id": rid})
            else:
                send({"error": {"class": "CommandNotFound", "desc": f"no {cmd}"}, "id": rid})
        await writer.drain()
    writer.close()


@pytest.fixture
async def link() -> Any:
    ours, theirs = socket.socketpair()
    stop_ev = {"event": "STOP", "data": {}, "timestamp": {"seconds": 1, "microseconds": 0}}
    server = asyncio.ensure_future(fake_qemu(theirs, [stop_ev] * 3))
    q = QmpLink("test")
    await asyncio.wait_for(q.connect(ours), 5)
    yield q
    await q.close()
    server.cancel()


async def test_execute_returns_the_return_value(link: QmpLink) -> None:
    assert await link.execute("query-status") == {"status": "running", "running": True}


async def test_qmp_errors_carry_their_class(link: QmpLink) -> None:
    with pytest.raises(ExecuteError) as err:
        await link.execute("frobnicate")
    assert err.value.error_class == "CommandNotFound"


async def test_events_stream_as_dicts_and_history_stays_empty(link: QmpLink) -> None:
    await link.execute("stop")
    stream = link.events()
    got = [await asyncio.wait_for(stream.__anext__(), 5) for _ in range(3)]
    assert [e["event"] for e in got] == ["STOP"] * 3
    assert all(isinstance(e, dict) for e in got)
    assert len(link.client.events.history) == 0  # nothing kept beyond the queue
