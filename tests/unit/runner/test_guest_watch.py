"""The runner's view of the guest (GuestWatch) and its `guest-exec`, against a fake agent: the
port following VSERPORT_CHANGE, addresses, `guest` events, exec status polling, base64 output,
the output cap, deadlines and the errors a user reads."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from maqet_tui.protocol import wire as proto
from maqet_tui.protocol.launch import AGENT_PORT_ID
from maqet_tui.protocol.wire import no_guest
from runner.guest_agent_link import GuestAgentLink
from runner.guest_exec import guest_exec
from runner.guest_watch import GuestWatch, addresses, os_name
from runner.ipc_server import RequestError
from tests.unit.runner.fake_agent import INTERFACES, Error, FakeAgent


def port_event(open_: bool, port: str = AGENT_PORT_ID) -> dict[str, Any]:
    return {"event": "VSERPORT_CHANGE", "data": {"id": port, "open": open_}}


class Watched:
    def __init__(self, watch: GuestWatch, agent: FakeAgent) -> None:
        self.watch, self.agent = watch, agent
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        assert topic == "guest"
        self.events.append(data)
        self.changed.set()

    async def until(self, pred: Any, timeout: float = 5) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while not pred(self.watch.state):
                self.changed.clear()
                await self.changed.wait()
        return self.watch.state


@pytest.fixture
async def watched() -> AsyncIterator[Watched]:
    ours, theirs = socket.socketpair()
    agent = FakeAgent()
    serve = asyncio.ensure_future(agent.serve(theirs))
    w = Watched(None, agent)  # type: ignore[arg-type]
    w.watch = GuestWatch(GuestAgentLink(ours), w.publish, poll=0.05)
    run = asyncio.ensure_future(w.watch.run())
    yield w
    run.cancel()
    agent.running.set()
    w.watch.link.close()
    await asyncio.wait_for(serve, 5)


async def test_nothing_is_asked_until_the_guest_opens_the_port(watched: Watched) -> None:
    await asyncio.sleep(0.2)  # several poll periods: the watch must stay idle meanwhile
    assert watched.agent.seen == []
    assert watched.watch.state == no_guest()
    watched.watch.on_qmp_event(port_event(True, port="some-other-port"))
    await asyncio.sleep(0.1)
    assert watched.agent.seen == []


async def test_an_open_port_gives_addresses_host_name_and_os(watched: Watched) -> None:
    watched.watch.on_qmp_event(port_event(True))
    state = await watched.until(lambda s: s["agent"])
    assert state == {
        "agent": True,
        "ips": ["10.0.2.15", "fec0::5054:ff:fe12:3456"],
        "hostname": "vm1",
        "os": "Debian GNU/Linux 12 (bookworm)",
    }
    assert watched.events[-1] == state
    assert watched.agent.seen[0] == "guest-sync-delimited"
    # A changed address is published on a later poll.
    watched.agent.handlers["guest-network-get-interfaces"] = lambda a: [
        {"name": "enp0s1", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.2.16"}]}
    ]
    await watched.until(lambda s: s["ips"] == ["10.0.2.16"])
    assert watched.events[-1]["ips"] == ["10.0.2.16"]


async def test_a_closed_port_means_no_agent_and_reopening_syncs_again(watched: Watched) -> None:
    watched.watch.on_qmp_event(port_event(True))
    await watched.until(lambda s: s["agent"])
    watched.watch.on_qmp_event(port_event(False))
    assert await watched.until(lambda s: not s["agent"]) == no_guest()
    assert watched.events[-1] == no_guest()
    syncs = watched.agent.seen.count("guest-sync-delimited")
    watched.watch.on_qmp_event(port_event(True))
    await watched.until(lambda s: s["agent"])
    assert watched.agent.seen.count("guest-sync-delimited") == syncs + 1


async def test_an_agent_that_stops_answering_is_not_connected(
    watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runner.guest_watch.CALL_TIMEOUT", 0.2)
    watched.watch.on_qmp_event(port_event(True))
    await watched.until(lambda s: s["agent"])
    watched.agent.running.clear()
    state = await watched.until(lambda s: not s["agent"])
    assert state["ips"] == ["10.0.2.15", "fec0::5054:ff:fe12:3456"]  # last known, kept
    watched.agent.running.set()
    await watched.until(lambda s: s["agent"])


async def exec_in(watched: Watched, **params: Any) -> Any:
    watched.watch.on_qmp_event(port_event(True))
    await watched.until(lambda s: s["agent"])
    return await guest_exec(watched.watch, "vm1", {"path": "uname", "args": ["-r"], **params})


async def test_exec_polls_until_exited_and_returns_base64_output(watched: Watched) -> None:
    watched.agent.polls_until_exit = 3
    watched.agent.exec_outcome = {"exitcode": 3, "out": b"6.1.0\n\xff\xfe", "err": b"oops\n"}
    result = await exec_in(watched, input=base64.b64encode(b"stdin").decode())
    assert result["exitcode"] == 3 and result["signal"] is None
    assert base64.b64decode(result["out"]) == b"6.1.0\n\xff\xfe"  # bytes as they came
    assert base64.b64decode(result["err"]) == b"oops\n"
    assert not result["out_truncated"] and not result["err_truncated"]
    run = next(iter(watched.agent.exec_runs.values()))
    assert run["polls"] == 4
    assert run["args"] == {
        "path": "uname",
        "arg": ["-r"],
        "capture-output": True,
        "input-data": base64.b64encode(b"stdin").decode(),
    }


async def test_exec_ended_by_a_signal(watched: Watched) -> None:
    watched.agent.exec_outcome = {"signal": 9, "out": b"", "err": b""}
    result = await exec_in(watched)
    assert result["exitcode"] is None and result["signal"] == 9


async def test_exec_output_is_cut_at_the_cap_and_flagged(watched: Watched) -> None:
    big = b"x" * (proto.EXEC_OUTPUT_MAX + 10)
    watched.agent.exec_outcome = {"exitcode": 0, "out": big, "err": b"e"}
    result = await exec_in(watched)
    assert base64.b64decode(result["out"]) == big[: proto.EXEC_OUTPUT_MAX]
    assert result["out_truncated"] and not result["err_truncated"]


async def test_exec_output_too_large_for_the_agent_reply_cap(watched: Watched) -> None:
    watched.watch.link.max_reply = 1000
    watched.agent.exec_outcome = {"exitcode": 0, "out": b"y" * 5000, "err": b""}
    with pytest.raises(RequestError) as info:
        await exec_in(watched)
    assert info.value.code == proto.GUEST_AGENT_ERROR
    assert "too large" in str(info.value) and "redirect it to a file" in str(info.value)
    # The channel is still usable.
    watched.agent.exec_outcome = {"exitcode": 0, "out": b"ok", "err": b""}
    result = await guest_exec(watched.watch, "vm1", {"path": "true"})
    assert base64.b64decode(result["out"]) == b"ok"


async def test_exec_that_does_not_finish_in_time(watched: Watched) -> None:
    watched.agent.polls_until_exit = 10_000
    with pytest.raises(RequestError) as info:
        await exec_in(watched, timeout=0.3)
    assert info.value.code == proto.GUEST_AGENT_TIMEOUT
    assert "did not finish within 0.3 s" in str(info.value) and "pid 1000" in str(info.value)


async def test_exec_of_a_missing_command_says_so(watched: Watched) -> None:
    with pytest.raises(RequestError) as info:
        await exec_in(watched, path="nosuch")
    assert info.value.code == proto.GUEST_AGENT_ERROR
    assert str(info.value) == (
        "cannot run 'nosuch' in 'vm1': Failed to execute child process \u201cnosuch\u201d "
        "(No such file or directory)"
    )


async def test_exec_without_a_connected_agent(watched: Watched) -> None:
    with pytest.raises(RequestError) as info:
        await guest_exec(watched.watch, "vm1", {"path": "ls"})
    assert info.value.code == proto.GUEST_AGENT_UNAVAILABLE
    assert str(info.value) == (
        "the guest agent of 'vm1' is not connected (is qemu-guest-agent installed and running?)"
    )
    with pytest.raises(RequestError) as info:
        await guest_exec(None, "vm1", {"path": "ls"})
    assert info.value.code == proto.GUEST_AGENT_UNAVAILABLE and "agent: true" in str(info.value)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"path": ""},
        {"path": 5},
        {"path": "a\0b"},
        {"path": "ls", "args": "-l"},
        {"path": "ls", "args": [1]},
        {"path": "ls", "input": "not base64!"},
        {"path": "ls", "timeout": 0},
        {"path": "ls", "timeout": True},
        {"path": "ls", "timeout": float("nan")},
        {"path": "ls", "timeout": proto.EXEC_TIMEOUT_MAX + 1},
    ],
)
async def test_exec_params_are_checked_before_anything_runs(params: dict[str, Any]) -> None:
    with pytest.raises(RequestError) as info:
        await guest_exec(None, "vm1", params)
    assert info.value.code == proto.BAD_REQUEST


async def test_an_agent_error_while_polling_is_reported(watched: Watched) -> None:
    watched.agent.handlers["guest-exec-status"] = lambda a: Error("GenericError", "pid gone")
    with pytest.raises(RequestError) as info:
        await exec_in(watched)
    assert info.value.code == proto.GUEST_AGENT_ERROR and "pid gone" in str(info.value)


def test_addresses_skip_loopback_and_link_local_and_put_ipv4_first() -> None:
    ifaces = [*INTERFACES[::-1], {"name": "x", "ip-addresses": [{"ip-address": 5}]}, "junk"]
    ifaces.append(
        {
            "name": "enp0s3",
            "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "169.254.1.1"},
                {"ip-address-type": "ipv4", "ip-address": "192.168.7.2"},
            ],
        }
    )
    assert addresses(ifaces) == ["10.0.2.15", "192.168.7.2", "fec0::5054:ff:fe12:3456"]
    assert addresses(None) == [] and addresses({"a": 1}) == []


def test_os_name() -> None:
    assert os_name({"pretty-name": "Debian GNU/Linux 12 (bookworm)"}) == (
        "Debian GNU/Linux 12 (bookworm)"
    )
    assert os_name({"name": "Alpine", "version": "3.20"}) == "Alpine 3.20"
    assert os_name({}) is None and os_name("x") is None


async def test_exec_whose_start_is_not_answered_says_it_may_still_run(
    watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched.watch.on_qmp_event(port_event(True))
    await watched.until(lambda s: s["agent"])
    monkeypatch.setattr("runner.guest_exec.CALL_TIMEOUT", 0.2)
    watched.agent.running.clear()  # e.g. a paused VM
    with pytest.raises(RequestError) as info:
        await guest_exec(watched.watch, "vm1", {"path": "true"})
    assert info.value.code == proto.GUEST_AGENT_TIMEOUT
    assert str(info.value) == (
        "'vm1': the guest agent did not answer 'guest-exec' within 0.2 s "
        "(the guest may still run the command)"
    )


async def test_a_reply_of_the_wrong_shape_does_not_end_the_watch(watched: Watched) -> None:
    watched.agent.handlers["guest-get-host-name"] = lambda a: ["not", "an", "object"]
    watched.agent.handlers["guest-network-get-interfaces"] = lambda a: "garbage"
    watched.watch.on_qmp_event(port_event(True))
    state = await watched.until(lambda s: s["agent"])
    assert state["hostname"] is None and state["ips"] == []
    watched.agent.handlers["guest-get-host-name"] = lambda a: {"host-name": "later"}
    await watched.until(lambda s: s["hostname"] == "later")
