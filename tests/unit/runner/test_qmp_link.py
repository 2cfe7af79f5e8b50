"""The runner's QMP client against a fake QMP server on a socketpair (no QEMU here)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from runner.qmp_link import ExecuteError, QmpLink
from tests.unit.runner.fake_qmp import GREETING, requests, send


async def fake_qemu(sock: socket.socket, events: list[dict[str, Any]]) -> None:
    """Speaks enough QMP: greeting, capabilities, query-status, stop (+STOP event), errors."""
    reader, writer = await asyncio.open_connection(sock=sock)
    send(writer, GREETING)
    async for req in requests(reader):
        cmd, rid = req["execute"], req.get("id")
        if cmd in ("qmp_capabilities", "cont"):
            send(writer, {"return": {}, "id": rid})
        elif cmd == "query-status":
            send(writer, {"return": {"status": "running", "running": True}, "id": rid})
        elif cmd == "stop":
            for ev in events:
                send(writer, ev)
            send(writer, {"return": {}, "id": rid})
        else:
            send(writer, {"error": {"class": "CommandNotFound", "desc": f"no {cmd}"}, "id": rid})
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
