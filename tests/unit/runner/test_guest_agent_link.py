"""The runner's guest agent client against a fake agent on a socketpair: the sync handshake and
stale data, deadlines, error replies, over-long replies, a closed channel."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator

import pytest

from runner.guest_agent_link import (
    AgentClosed,
    AgentError,
    AgentReplyTooLarge,
    AgentTimeout,
    GuestAgentLink,
)
from tests.unit.runner.fake_agent import FakeAgent


@pytest.fixture
async def pair() -> AsyncIterator[tuple[GuestAgentLink, FakeAgent]]:
    ours, theirs = socket.socketpair()
    agent = FakeAgent()
    task = asyncio.ensure_future(agent.serve(theirs))
    link = GuestAgentLink(ours, max_reply=4096)
    await link.open()
    yield link, agent
    agent.running.set()
    link.close()
    await asyncio.wait_for(task, 5)


async def test_the_first_call_syncs_and_gets_its_answer(
    pair: tuple[GuestAgentLink, FakeAgent],
) -> None:
    link, agent = pair
    assert await link.call("guest-get-host-name", timeout=5) == {"host-name": "vm1"}
    assert agent.seen == ["guest-sync-delimited", "guest-get-host-name"]
    # In step now: no second sync.
    assert await link.call("guest-ping", timeout=5) == {}
    assert agent.seen[2:] == ["guest-ping"]


async def test_stale_output_before_the_sync_marker_is_dropped(
    pair: tuple[GuestAgentLink, FakeAgent],
) -> None:
    link, agent = pair
    # Output the runner never asked for: a late reply, half a line, an earlier sync's reply
    # (its own marker and a wrong id), binary junk.
    await agent.write(b'{"return": {"host-name": "stale"}}\n{"ret')
    agent.before_sync_reply = b'\xff{"return": 12345}\n\x00\x01garbage\n'
    assert await link.call("guest-get-host-name", timeout=5) == {"host-name": "vm1"}


async def test_a_desync_makes_the_next_call_sync_again(
    pair: tuple[GuestAgentLink, FakeAgent],
) -> None:
    link, agent = pair
    await link.call("guest-ping", timeout=5)
    link.desync()  # e.g. the guest reopened the port
    await agent.write(b'{"return": "stale"}\n')
    assert await link.call("guest-get-host-name", timeout=5) == {"host-name": "vm1"}
    assert agent.seen.count("guest-sync-delimited") == 2


async def test_a_silent_agent_costs_its_deadline_and_a_late_answer_is_not_misread(
    pair: tuple[GuestAgentLink, FakeAgent],
) -> None:
    link, agent = pair
    await link.call("guest-ping", timeout=5)
    agent.running.clear()  # the guest hangs
    t0 = time.monotonic()
    with pytest.raises(AgentTimeout) as info:
        await link.call("guest-get-host-name", timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 3
    assert "guest-get-host-name" in str(info.value)
    # A call queued behind the silent one is bounded by its own deadline too.
    with pytest.raises(AgentTimeout):
        await link.call("guest-ping", timeout=0.3)
    agent.handlers["guest-network-get-interfaces"] = lambda a: [{"name": "eth9"}]
    agent.running.set()  # the guest wakes: the host name reply arrives late, then the rest
    assert await link.call("guest-network-get-interfaces", timeout=5) == [{"name": "eth9"}]


async def test_an_error_reply_names_the_class_and_text(
    pair: tuple[GuestAgentLink, FakeAgent],
) -> None:
    link, _ = pair
    with pytest.raises(AgentError) as info:
        await link.call("guest-no-such-command", timeout=5)
    assert info.value.error_class == "CommandNotFound"
    assert "no guest-no-such-command" in info.value.desc
    assert await link.call("guest-ping", timeout=5) == {}  # still usable


async def test_an_over_long_reply_is_discarded_and_the_link_stays_in_step(
    pair: tuple[GuestAgentLink, FakeAgent],
) -> None:
    link, agent = pair
    agent.handlers["guest-get-osinfo"] = lambda a: {"pretty-name": "x" * 100_000}
    with pytest.raises(AgentReplyTooLarge) as info:
        await link.call("guest-get-osinfo", timeout=5)
    assert info.value.size > 100_000 and info.value.limit == 4096
    assert await link.call("guest-get-host-name", timeout=5) == {"host-name": "vm1"}
    assert agent.seen.count("guest-sync-delimited") == 1
    assert link._buf == bytearray()  # nothing of the big line kept


async def test_a_closed_channel_is_reported_as_such() -> None:
    ours, theirs = socket.socketpair()
    link = GuestAgentLink(ours)
    await link.open()
    theirs.close()
    with pytest.raises(AgentClosed):
        await link.call("guest-ping", timeout=5)
    with pytest.raises(AgentClosed):  # and stays so, at once
        await link.call("guest-ping", timeout=5)
    link.close()


async def test_requests_are_json_lines_the_agent_can_parse(
    pair: tuple[GuestAgentLink, FakeAgent],
) -> None:
    link, agent = pair
    seen: list[dict[str, object]] = []

    def exec_(args: dict[str, object]) -> dict[str, int]:
        seen.append(args)
        return {"pid": 7}

    agent.handlers["guest-exec"] = exec_
    assert await link.call("guest-exec", {"path": "/bin/echo", "arg": ["é"]}, timeout=5) == {
        "pid": 7
    }
    assert json.loads(json.dumps(seen[0])) == {"path": "/bin/echo", "arg": ["é"]}
