"""A VM's whole life on another host, through a real sshd: the same output as on the host
itself, the shared connection, and VMs that never depend on it."""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from maqet_tui.common.paths import Paths
from maqet_tui.common.procs import is_alive
from maqet_tui.fleet import registry
from maqet_tui.fleet.client import AgentSession, HostError
from tests.fleet.conftest import Lab, agents
from tests.helpers import Env, run_cli, ssh_processes, wait_for


def on_host(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    """The same subcommand run on the host itself (its own home), to compare outputs with."""
    env = {**os.environ, "MAQET_TUI_HOME": str(lab.remote.home),
           "MAQET_TUI_RUNTIME_DIR": str(lab.remote.runtime)}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "maqet_tui", *args], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip


def remote(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(lab.env, "--host", lab.name, *args)


def masters(env: Env) -> dict[int, str]:
    return {p: c for p, c in ssh_processes({str(env.runtime)}).items() if "[mux]" in c}


def test_lifecycle_on_a_remote_host(lab: Lab) -> None:
    r = remote(lab, "add", "vm1", "--memory", "64", "--accel", "tcg")
    assert (r.returncode, r.stderr) == (0, "") and r.stdout.startswith("added vm1 (")
    assert len(masters(lab.env)) == 1  # the first command left one shared connection
    for args in (("ls",), ("show", "vm1")):
        here, there = remote(lab, *args), on_host(lab, *args)
        assert (here.returncode, here.stdout, here.stderr) == (0, there.stdout, there.stderr)
    r = remote(lab, "start", "vm1")
    assert r.returncode == 0 and r.stdout.startswith("vm1 is running (qemu pid ")
    rows: list[dict[str, Any]] = json.loads(remote(lab, "ls", "--json").stdout)
    assert [(v["name"], v["status"], v["host"]) for v in rows] == [("vm1", "running", "lab")]
    local_rows = json.loads(on_host(lab, "ls", "--json").stdout)
    assert [{k: v for k, v in row.items() if k != "host"} for row in rows] == local_rows
    shown = json.loads(remote(lab, "show", "vm1", "--json").stdout)
    assert shown["host"] == "lab" and shown["accel_in_use"] == "tcg"
    r = remote(lab, "qmp", "vm1", "query-status")
    assert json.loads(r.stdout)["status"] == "running"
    assert remote(lab, "pause", "vm1").stdout == on_host(lab, "pause", "vm1").stdout
    assert json.loads(remote(lab, "qmp", "vm1", "query-status").stdout)["status"] == "paused"
    r = remote(lab, "resume", "vm1")
    assert (r.returncode, r.stdout) == (0, "vm1 is running\n")
    r = remote(lab, "stop", "vm1", "--force")
    assert (r.returncode, r.stdout) == (0, "vm1 is stopped\n")
    r = remote(lab, "stop", "vm1")  # exit status and stderr of a refusal come through too
    assert (r.returncode, r.stdout) == (0, "vm1 is already stopped\n")
    r = remote(lab, "qmp", "vm1", "query-status")
    assert r.returncode == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert r.stderr == on_host(lab, "qmp", "vm1", "query-status").stderr
    r = remote(lab, "rm", "vm1")
    assert (r.returncode, r.stdout) == (0, "removed vm1\n")
    assert json.loads(on_host(lab, "ls", "--json").stdout) == []
    assert len(masters(lab.env)) == 1  # every command shared the one connection


def test_ls_all_hosts(lab: Lab, sshd: object) -> None:
    run_cli(lab.env, "add", "here", "--memory", "64", check=True)
    remote(lab, "add", "there", "--memory", "64")
    rows = json.loads(run_cli(lab.env, "ls", "--all-hosts", "--json", check=True).stdout)
    assert [(v["host"], v["name"]) for v in rows] == [("local", "here"), ("lab", "there")]
    table = run_cli(lab.env, "ls", "--all-hosts", check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["HOST", "NAME", "ID"]
    assert [line.split()[:2] for line in table[1:]] == [["local", "here"], ["lab", "there"]]
    # A host that is down: one line naming it and ssh's reason; the others still listed.
    run_cli(lab.env, "host", "add", "down", "127.0.0.1", "--ssh-option", "Port=1", check=True)
    r = run_cli(lab.env, "ls", "--all-hosts", "--json")
    assert r.returncode == 1
    assert [(v["host"], v["name"]) for v in json.loads(r.stdout)] == [
        ("local", "here"), ("lab", "there"),
    ]  # fmt: skip
    assert r.stderr.startswith("error: host 'down' (127.0.0.1): ssh: connect to host 127.0.0.1")
    assert "Connection refused" in r.stderr and r.stderr.count("\n") == 1


def test_a_killed_connection_never_touches_the_remote_vm(lab: Lab) -> None:
    remote(lab, "add", "vm1", "--memory", "64", "--accel", "tcg")
    assert remote(lab, "start", "vm1").returncode == 0
    before = lab.remote_manager().get("vm1")
    paths = Paths.resolve(lab.env.home)
    spec = registry.get(paths, lab.name)
    with AgentSession(spec, paths) as session:
        session.call("subscribe")
        assert session.next_event(timeout=30)["data"]["vms"][0]["status"] == "running"
        (master,) = masters(lab.env)
        os.kill(master, signal.SIGKILL)  # the connection dies under an open session
        try:
            while True:
                session.next_event(timeout=30)
        except HostError as exc:
            assert "host 'lab'" in str(exc)
    after = lab.remote_manager().get("vm1")
    assert after["status"] == "running" and after["runner_pid"] == before["runner_pid"]
    assert is_alive(after["runner_pid"], after["runner_started"]) and is_alive(after["qemu_pid"])
    rows = json.loads(remote(lab, "ls", "--json").stdout)  # a new connection, same VM
    assert rows[0]["status"] == "running" and rows[0]["qemu_pid"] == before["qemu_pid"]


def test_a_client_killed_mid_command_leaves_nothing_on_the_host(lab: Lab) -> None:
    remote(lab, "add", "vm1", "--memory", "64")
    client = subprocess.Popen(
        [sys.executable, "-m", "maqet_tui", "--host", "lab", "logs", "vm1", "-f"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "MAQET_TUI_HOME": str(lab.env.home)},
    )  # fmt: skip
    try:
        wait_for(lambda: agents(lab.remote), 30, "the agent to serve logs -f")
    finally:
        client.kill()  # not its ssh: that one now sees its stdin end, and so does the agent
        client.wait()
    wait_for(lambda: not agents(lab.remote), 15, "the agent to end")
    wait_for(lambda: masters(lab.env) == ssh_processes({str(lab.env.runtime)}), 10, "its ssh")


ECHO = (
    b"\x66\xba\xfd\x03\xec\xa8\x01\x74\xf7"  # loop: mov dx,0x3fd; in al,dx; test al,1; jz loop
    b"\x66\xba\xf8\x03\xec\xee\xeb\xef"  # mov dx,0x3f8; in al,dx; out dx,al; jmp loop
)


def echo_kernel(path: Path) -> Path:
    """A multiboot image that echoes every byte the serial port receives (no firmware output)."""
    magic, flags, load = 0x1BADB002, 0x00010000, 0x100000
    header = struct.pack("<8I", magic, flags, -(magic + flags) & 0xFFFFFFFF, load, load, 0, 0, 0)
    header = header[:-4] + struct.pack("<I", load + len(header))
    path.write_bytes(header + ECHO)
    return path


def test_console_bytes_round_trip(lab: Lab) -> None:
    kernel = echo_kernel(lab.remote.home / "echo.bin")
    remote(lab, "add", "echo", "--memory", "64", "--accel", "tcg", "--kernel", str(kernel))
    assert remote(lab, "start", "echo").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "maqet_tui", "--host", "lab", "console", "echo"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "MAQET_TUI_HOME": str(lab.env.home)},
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"ping-7f3a\n")
        proc.stdin.flush()
        fd = proc.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + 30
        while b"ping-7f3a\n" not in seen:  # on stdout only from the guest: nothing echoes here
            ready = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]
            assert ready, f"no echo from the guest; got {seen!r}"
            chunk = os.read(fd, 4096)
            assert chunk, f"the console ended; got {seen!r}"
            seen += chunk
        proc.stdin.write(b"\x1d")  # Ctrl-] leaves
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            if f is not None:
                f.close()
