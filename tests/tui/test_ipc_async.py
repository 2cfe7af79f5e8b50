"""The asyncio IPC client the TUI subscribes with: against a real runner, and against peers that
misbehave (silent, vanishing) to prove no call can hang."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.errors import IPCError
from maqet_tui.core.ipc_async import AsyncIPCClient, call
from maqet_tui.core.manager import Manager


async def test_missing_socket_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(IPCError) as info:
        await AsyncIPCClient.connect(tmp_path / "nobody.sock")
    assert info.value.code == "not-running"


async def test_against_a_real_runner(manager: Manager, tiny_vm: Callable[..., Any]) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    assert await call(vm["socket_path"], "ping") == "pong"
    client = await AsyncIPCClient.connect(vm["socket_path"])
    async with client:
        await client.subscribe(["status", "qmp-event"])
        events = client.events()
        first = await asyncio.wait_for(anext(events), 10)
        assert first["event"] == "status" and first["data"]["status"] == "running"

        answer = await client.call("qmp", {"command": "query-status"})
        assert answer["status"] == "running"
        with pytest.raises(IPCError, match="CommandNotFound"):
            await client.call("qmp", {"command": "no-such-command"})

        # The VM stops (from another thread, as another process would): the stream reports it
        # and then simply ends.
        stopping = asyncio.get_running_loop().run_in_executor(
            None, lambda: manager.stop("vm1", force=True)
        )
        seen = [ev async for ev in _until_end(events)]
        await stopping
    statuses = [ev["data"].get("status") for ev in seen if ev["event"] == "status"]
    assert statuses[-1] == "stopped"
    assert client.closed


async def _until_end(events: Any) -> Any:
    while True:
        try:
            yield await asyncio.wait_for(anext(events), 15)
        except StopAsyncIteration:
            return


async def test_silent_peer_times_out_and_vanishing_peer_fails_fast() -> None:
    with tempfile.TemporaryDirectory(prefix="mqa-", dir="/tmp") as d:
        path = str(Path(d) / "s.sock")
        writers: list[asyncio.StreamWriter] = []

        async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            writers.append(w)

        server = await asyncio.start_unix_server(silent, path=path)
        async with server:
            client = await AsyncIPCClient.connect(path)
            with pytest.raises(IPCError) as info:
                await client.call("ping", timeout=0.2)
            assert info.value.code == "timeout"

            pending = asyncio.ensure_future(client.call("ping", timeout=30))
            for w in writers:
                w.close()
            with pytest.raises(IPCError) as info:
                await asyncio.wait_for(pending, 10)
            assert info.value.code == "closed"
            assert [ev async for ev in client.events()] == []
            await client.close()
