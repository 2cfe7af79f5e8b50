"""The guest agent channel against a real (tiny, guestless) QEMU: who gets it, what the runner
and the CLI say while no agent answers on it. The agent itself is exercised in
test_guest_agent.py, against a real Debian guest."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from maqet_tui.common import procs
from maqet_tui.core import ipc_client
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli, sigstopped

TinyVM = Callable[..., dict[str, Any]]
NO_GUEST = {"agent": False, "ips": [], "hostname": None, "os": None}


def test_a_vm_with_agent_true_gets_the_channel_and_reports_no_agent_yet(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1", agent=True)
    vm = manager.start("vm1")
    argv = procs.cmdline(vm["qemu_pid"])
    port = next(a for a in argv if a.startswith("virtserialport,"))
    assert "name=org.qemu.guest_agent.0" in port and "chardev=maqet-qga" in port
    chardev = next(a for a in argv if a.startswith("socket,id=maqet-qga,"))
    assert chardev.startswith("socket,id=maqet-qga,fd=")  # an inherited fd: nobody else's
    with ipc_client.IPCClient(vm["socket_path"], timeout=10) as c:
        assert c.call("guest") == NO_GUEST
        assert c.call("subscribe", {"topics": ["guest"]}) == {"topics": ["guest"]}
        first = c.read_message(timeout=10)
        assert first == {"event": "guest", "data": NO_GUEST}
    with ipc_client.IPCClient(vm["socket_path"], timeout=10) as plain:
        assert "guest" not in plain.call("subscribe", {})["topics"]  # asked for by name only
    shown = run_cli(env, "show", "vm1", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["guest"] == NO_GUEST
    assert "guest:        agent not connected" in run_cli(env, "show", "vm1").stdout
    r = run_cli(env, "exec", "vm1", "--", "uname", "-r")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == (
        "error: the guest agent of 'vm1' is not connected "
        "(is qemu-guest-agent installed and running?)\n"
    )


def test_a_vm_without_the_agent_key_is_unchanged_and_exec_says_why(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1")
    vm = manager.start("vm1")
    assert vm["config"]["agent"] is False
    assert not any("virtio-serial" in a or "qga" in a for a in procs.cmdline(vm["qemu_pid"]))
    assert manager.guest("vm1") == NO_GUEST
    r = run_cli(env, "exec", "vm1", "--", "true")
    assert r.returncode == 1
    assert r.stderr.startswith("error: VM 'vm1' has no guest agent channel (")
    assert "agent=true" in r.stderr


def test_exec_on_a_stopped_vm_and_without_a_command(env: Env, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1", agent=True)
    r = run_cli(env, "exec", "vm1", "--", "true")
    assert (r.returncode, r.stderr) == (1, "error: VM 'vm1' is not running (status: stopped)\n")
    shown = json.loads(run_cli(env, "show", "vm1", "--json").stdout)
    assert shown["guest"] == NO_GUEST
    r = run_cli(env, "exec", "vm1")
    assert r.returncode == 1 and r.stderr.startswith("error: exec: no command given")
    r = run_cli(env, "exec", "nosuchvm", "--", "true")
    assert r.returncode == 1 and "nosuchvm" in r.stderr


def test_set_agent_validates(env: Env, tiny_vm: TinyVM) -> None:
    tiny_vm("vm1")
    r = run_cli(env, "set", "vm1", "agent=maybe")
    assert r.returncode == 1 and "agent: expected true or false" in r.stderr
    assert run_cli(env, "set", "vm1", "agent=true").returncode == 0
    assert json.loads(run_cli(env, "show", "vm1", "--json").stdout)["config"]["agent"] is True


def test_show_does_not_wait_for_a_runner_that_does_not_answer(
    manager: Manager, tiny_vm: TinyVM, env: Env
) -> None:
    tiny_vm("vm1", agent=True)
    vm = manager.start("vm1")
    with sigstopped(vm["runner_pid"], vm["runner_started"]):
        t0 = time.monotonic()
        shown = run_cli(env, "show", "vm1", "--json")
        took = time.monotonic() - t0
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["guest"] == NO_GUEST
    assert took < 15  # the guest query's own deadline is 2 s; generous for a loaded host
