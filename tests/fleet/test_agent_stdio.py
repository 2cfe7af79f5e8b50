"""`maqet-tui agent --stdio` spoken to directly through pipes (the part ssh only carries)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from maqet_tui.common.paths import Paths
from maqet_tui.core.logfile import TAIL_BYTES
from maqet_tui.fleet.follow import LOG_CHUNK
from maqet_tui.protocol import agent as ap
from maqet_tui.protocol import wire
from tests.helpers import Env, run_cli


class Pipe:
    def __init__(self, env: Env, **extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maqet_tui", "agent", "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "MAQET_TUI_HOME": str(env.home), **extra},
        )

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(wire.encode(obj))
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the agent closed its output"
        msg: dict[str, Any] = json.loads(line)
        return msg

    def answer(self, req_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        while True:
            msg = self.read()
            if msg.get("id") == req_id and "event" not in msg:
                return msg, events
            events.append(msg)

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=10)
        for f in (self.proc.stdout, self.proc.stderr):
            assert f is not None
            f.close()
        return code


@pytest.fixture
def agent(env: Env) -> Iterator[Pipe]:
    p = Pipe(env)
    p.send(ap.hello("test"))
    hello = p.read()
    assert hello["hello"] == "maqet-tui" and hello["protocol"] == ap.PROTOCOL
    yield p
    assert p.close() == 0


def test_list_run_and_bad_lines(agent: Pipe, env: Env) -> None:
    run_cli(env, "add", "vm1", "--memory", "64", check=True)
    agent.send({"id": 1, "method": "list"})
    msg, _ = agent.answer(1)
    assert [vm["name"] for vm in msg["result"]] == ["vm1"]
    agent.send({"id": 2, "method": "run", "params": {"argv": ["show", "vm1"]}})
    msg, events = agent.answer(2)
    assert msg["result"] == {"exit": 0}
    out = "".join(e["data"]["text"] for e in events if e["data"]["stream"] == "stdout")
    assert out == run_cli(env, "show", "vm1").stdout
    agent.send({"id": 3, "method": "run", "params": {"argv": ["show", "nosuch"]}})
    msg, events = agent.answer(3)
    assert msg["result"] == {"exit": 1}
    assert [e["data"] for e in events] == [
        {"stream": "stderr", "text": "error: no VM named 'nosuch'\n"}
    ]
    agent.send({"id": 4, "method": "run", "params": {"argv": ["frobnicate"]}})
    assert agent.answer(4)[0]["result"] == {"exit": 2}  # argparse's usage error, not a crash
    for argv in (["console", "vm1"], ["--home", "/x", "agent", "--stdio"]):
        # Both would read the agent's stdin, which is the protocol's channel.
        agent.send({"id": 8, "method": "run", "params": {"argv": argv}})
        msg, events = agent.answer(8)
        assert msg["result"] == {"exit": 1}
        assert events[0]["data"]["text"] == f"error: {argv[-2]} cannot run through the agent\n"
    agent.send(
        {"id": 9, "method": "run", "params": {"argv": ["exec", "vm1", "--stdin", "--", "cat"]}}
    )
    msg, events = agent.answer(9)
    assert msg["result"] == {"exit": 1}
    assert events[0]["data"]["text"] == "error: exec --stdin cannot run through the agent\n"
    agent.proc.stdin.write(b"not json\n")  # type: ignore[union-attr]
    agent.proc.stdin.flush()  # type: ignore[union-attr]
    assert agent.read()["error"]["code"] == wire.BAD_REQUEST
    agent.send({"id": 5, "method": "reboot-the-world"})
    assert agent.answer(5)[0]["error"]["code"] == wire.UNKNOWN_METHOD
    agent.send({"id": 6, "method": "show", "params": {"name": "nosuch"}})
    assert agent.answer(6)[0]["error"] == {"code": "failed", "message": "no VM named 'nosuch'"}
    agent.send({"id": 9, "method": "run", "params": {"argv": "ls"}})
    assert agent.answer(9)[0]["error"]["code"] == wire.BAD_REQUEST
    agent.send({"id": 7, "method": "ping"})
    assert agent.answer(7)[0]["result"] == "pong"  # still serving after all that


def test_set_changes_a_definition_and_names_the_key_it_refuses(agent: Pipe, env: Env) -> None:
    run_cli(env, "add", "vm1", "--memory", "64", check=True)
    agent.send({"id": 1, "method": "set", "params": {"name": "vm1", "config": {"memory": 96}}})
    shown = agent.answer(1)[0]["result"]
    assert (shown["name"], shown["config"]["memory"]) == ("vm1", 96)
    assert json.loads(run_cli(env, "show", "vm1", "--json").stdout)["config"]["memory"] == 96
    bad = {"name": "vm1", "config": {"cpus": 0}}
    agent.send({"id": 2, "method": "set", "params": bad})
    error = agent.answer(2)[0]["error"]
    assert (error["code"], error["field"]) == ("failed", "cpus")
    assert error["message"].startswith("cpus: ")
    agent.send({"id": 3, "method": "set", "params": {"name": "vm1", "config": {"nokey": 1}}})
    error = agent.answer(3)[0]["error"]  # about no one key of the form: no field
    assert error["code"] == "failed" and "field" not in error
    agent.send({"id": 4, "method": "set", "params": {"name": "vm1", "config": "memory=1"}})
    assert agent.answer(4)[0]["error"]["code"] == wire.BAD_REQUEST
    assert json.loads(run_cli(env, "show", "vm1", "--json").stdout)["config"]["memory"] == 96


def test_subscribe_pushes_changes_made_by_others(agent: Pipe, env: Env) -> None:
    agent.send({"id": 1, "method": "subscribe"})
    msg, events = agent.answer(1)
    assert msg["result"] == {"topics": ["vms"]}
    first = events[0] if events else agent.read()
    assert first == {"event": "vms", "data": {"vms": []}}
    agent.send({"id": 2, "method": "subscribe"})  # again: still one watcher, one event a change
    assert agent.answer(2)[0]["result"] == {"topics": ["vms"]}
    t0 = time.monotonic()
    run_cli(env, "add", "pushed", "--memory", "64", check=True)
    msg = agent.read()
    assert msg["event"] == "vms" and [v["name"] for v in msg["data"]["vms"]] == ["pushed"]
    assert time.monotonic() - t0 < 10  # generous; the pace (0.2 s) is in the benchmark
    agent.send({"id": 3, "method": "ping"})
    assert agent.read() == {"id": 3, "result": "pong"}  # no second copy of the event before it


def test_events_of_a_vm_from_an_id_on(agent: Pipe, env: Env) -> None:
    run_cli(env, "add", "vm1", "--memory", "64", check=True)
    agent.send({"id": 1, "method": "events", "params": {"name": "vm1"}})
    first = agent.answer(1)[0]["result"]
    assert [(e["kind"], e["name"]) for e in first] == [("status", "stopped")]
    last = first[-1]["id"]
    agent.send({"id": 2, "method": "events", "params": {"name": "vm1", "after": last}})
    assert agent.answer(2)[0]["result"] == []
    agent.send({"id": 3, "method": "events", "params": {"name": "vm1", "after": "x"}})
    assert agent.answer(3)[0]["error"]["code"] == wire.BAD_REQUEST
    agent.send({"id": 4, "method": "events", "params": {"name": "nosuch"}})
    assert agent.answer(4)[0]["error"] == {"code": "failed", "message": "no VM named 'nosuch'"}


@pytest.mark.parametrize("side", ["agent", "client"])
def test_a_major_version_mismatch_is_refused_naming_both(env: Env, side: str) -> None:
    extra = {ap.PROTOCOL_ENV: "2.0"} if side == "agent" else {}
    p = Pipe(env, **extra)
    theirs = ap.hello("test")
    theirs["protocol"] = ap.PROTOCOL if side == "agent" else "2.0"
    p.send(theirs)
    assert p.read()["hello"] == "maqet-tui"
    msg = p.read()
    assert msg["error"]["code"] == ap.VERSION_MISMATCH
    assert "2.0" in msg["error"]["message"] and ap.PROTOCOL in msg["error"]["message"]
    assert p.proc.wait(timeout=10) == ap.EXIT_MISMATCH
    assert p.proc.stderr is not None
    err = p.proc.stderr.read().decode()
    assert err.startswith("error: the client speaks agent protocol") and "2.0" in err
    p.close()


def test_requests_in_flight_are_answered_after_stdin_ends(env: Env) -> None:
    # A client that writes its requests and closes its side still gets every answer.
    p = Pipe(env)
    p.send(ap.hello("test"))
    p.send({"id": 1, "method": "run", "params": {"argv": ["ls", "--json"]}})
    assert p.proc.stdin is not None
    p.proc.stdin.close()
    assert p.read()["hello"] == "maqet-tui"
    msg, events = p.answer(1)
    assert msg["result"] == {"exit": 0} and events[0]["data"]["text"] == "[]\n"
    assert p.proc.wait(timeout=10) == 0
    for f in (p.proc.stdout, p.proc.stderr):
        assert f is not None
        f.close()


def test_follow_sends_the_log_tail_then_appended_lines_in_bounded_pieces(
    agent: Pipe, env: Env
) -> None:
    run_cli(env, "add", "vm1", "--memory", "64", check=True)
    run_cli(env, "add", "vm2", "--memory", "64", check=True)
    vm_id = json.loads(run_cli(env, "show", "vm1", "--json").stdout)["id"]
    log = Paths.resolve(env.home).runner_log(vm_id)
    log.write_text("an old line\n")
    agent.send({"id": 1, "method": "follow", "params": {"name": "vm1"}})
    msg, events = agent.answer(1)
    assert msg["result"] == {"following": vm_id}
    first = events[0] if events else agent.read()
    assert first == {"event": "log", "data": {"vm": vm_id, "text": "an old line\n", "reset": True}}

    burst = "".join(f"line {i:06d} " + "x" * 90 + "\n" for i in range(4000))  # 400 KB
    with open(log, "a") as f:
        f.write(burst)
    got = ""
    while len(got) < len(burst):
        ev = agent.read()
        assert ev["event"] == "log" and ev["data"]["reset"] is False and ev["data"]["vm"] == vm_id
        text = ev["data"]["text"]
        assert text.endswith("\n") and len(text.encode()) <= LOG_CHUNK  # whole lines, bounded
        got += text
    assert got == burst  # every line, once, in order

    agent.send({"id": 2, "method": "follow", "params": {"name": None}})
    assert agent.answer(2)[0]["result"] == {"following": None}
    with open(log, "a") as f:
        f.write("written while nobody follows\n")
    agent.send({"id": 3, "method": "follow", "params": {"name": "vm1"}})
    msg, events = agent.answer(3)
    first = events[0] if events else agent.read()  # nothing in between: the tail, afresh
    assert first["data"]["reset"] is True
    assert first["data"]["text"].endswith("x\nwritten while nobody follows\n")
    assert len(first["data"]["text"].encode()) <= TAIL_BYTES

    agent.send({"id": 4, "method": "follow", "params": {"name": "nosuch"}})
    assert agent.answer(4)[0]["error"] == {"code": "failed", "message": "no VM named 'nosuch'"}
    agent.send({"id": 5, "method": "follow", "params": {"name": 7}})
    assert agent.answer(5)[0]["error"]["code"] == wire.BAD_REQUEST
    agent.send({"id": 6, "method": "follow", "params": {"name": "vm2"}})  # replaces vm1
    msg, events = agent.answer(6)
    first = events[0] if events else agent.read()
    assert first["data"] == {"vm": msg["result"]["following"], "text": "", "reset": True}


def test_an_agent_claiming_an_older_minor_refuses_what_came_later(env: Env) -> None:
    p = Pipe(env, **{ap.PROTOCOL_ENV: "1.1"})
    p.send(ap.hello("test"))
    assert p.read()["protocol"] == "1.1"
    p.send({"id": 1, "method": "follow", "params": {"name": None}})
    assert p.answer(1)[0]["error"]["code"] == wire.UNKNOWN_METHOD
    p.send({"id": 2, "method": "events", "params": {"name": "nosuch"}})  # 1.1 has events
    assert p.answer(2)[0]["error"]["code"] == "failed"
    assert p.close() == 0
    p = Pipe(env, **{ap.PROTOCOL_ENV: "1.2"})
    p.send(ap.hello("test"))
    assert p.read()["protocol"] == "1.2"
    p.send({"id": 1, "method": "set", "params": {"name": "nosuch", "config": {}}})  # 1.3's
    assert p.answer(1)[0]["error"]["code"] == wire.UNKNOWN_METHOD
    p.send({"id": 2, "method": "follow", "params": {"name": None}})  # 1.2 has follow
    assert p.answer(2)[0]["result"] == {"following": None}
    assert p.close() == 0
