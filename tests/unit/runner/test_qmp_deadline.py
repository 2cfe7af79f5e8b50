"""QmpLink.call's deadline against a fake QEMU that can be frozen (as by SIGSTOP): a timed-out
command makes QEMU unresponsive until it answers, and a late answer is undone when asked."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runner.qmp_link import ExecuteError, QemuTimeout, QemuUnresponsive, QmpLink
from tests.unit.runner.fake_qmp import GREETING, requests, send


class FakeQemu:
    """Answers in order, and nothing at all while `running` is clear."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.running.set()
        self.seen: list[str] = []
        self.seen_changed = asyncio.Event()

    async def serve(self, sock: socket.socket) -> None:
        reader, writer = await asyncio.open_connection(sock=sock)
        send(writer, GREETING)
        async for req in requests(reader):
            await self.running.wait()
            cmd, rid = req["execute"], req.get("id")
            if cmd != "qmp_capabilities":
                self.seen.append(cmd)
                self.seen_changed.set()
            if cmd == "fail":
                answer: dict[str, Any] = {"error": {"class": "GenericError", "desc": "no"}}
            else:
                answer = {"return": {}}
            send(writer, {**answer, "id": rid})
            await writer.drain()
        writer.close()

    async def wait_seen(self, n: int) -> list[str]:
        while len(self.seen) < n:
            self.seen_changed.clear()
            await asyncio.wait_for(self.seen_changed.wait(), 5)
        return self.seen


@pytest.fixture
async def qemu() -> AsyncIterator[tuple[QmpLink, FakeQemu]]:
    ours, theirs = socket.socketpair()
    fake = FakeQemu()
    server = asyncio.ensure_future(fake.serve(theirs))
    link = QmpLink("test")
    await asyncio.wait_for(link.connect(ours), 5)
    yield link, fake
    await link.close()
    server.cancel()


async def test_answer_within_the_deadline(qemu: tuple[QmpLink, FakeQemu]) -> None:
    link, _ = qemu
    assert await link.call("query-status", timeout=5) == {}
    assert link.unresponsive is None


async def test_timeout_then_refusal_until_the_late_answer_which_is_undone(
    qemu: tuple[QmpLink, FakeQemu],
) -> None:
    link, fake = qemu
    fake.running.clear()
    with pytest.raises(QemuTimeout) as err:
        await link.call("stop", timeout=0.05, undo="cont")
    assert (err.value.command, err.value.timeout) == ("stop", 0.05)
    assert link.unresponsive == "stop"
    with pytest.raises(QemuUnresponsive) as refused:
        await asyncio.wait_for(link.call("query-status", timeout=5), 1)
    assert (refused.value.command, refused.value.pending) == ("query-status", "stop")
    assert refused.value.waited >= 0.05
    fake.running.set()
    assert await fake.wait_seen(2) == ["stop", "cont"]  # the refused command was never sent
    assert link.unresponsive is None
    assert await link.call("query-status", timeout=5) == {}
    assert fake.seen == ["stop", "cont", "query-status"]


async def test_late_answer_without_undo_just_clears(qemu: tuple[QmpLink, FakeQemu]) -> None:
    link, fake = qemu
    fake.running.clear()
    with pytest.raises(QemuTimeout):
        await link.call("system_reset", timeout=0.05)
    fake.running.set()
    await asyncio.wait_for(link.settled(), 5)
    assert link.unresponsive is None
    assert await link.call("query-status", timeout=5) == {}
    assert fake.seen == ["system_reset", "query-status"]


async def test_late_error_is_not_undone(qemu: tuple[QmpLink, FakeQemu]) -> None:
    link, fake = qemu
    fake.running.clear()
    with pytest.raises(QemuTimeout):
        await link.call("fail", timeout=0.05, undo="cont")
    fake.running.set()
    await asyncio.wait_for(link.settled(), 5)
    with pytest.raises(ExecuteError):
        await link.call("fail", timeout=5)
    assert fake.seen == ["fail", "fail"]
