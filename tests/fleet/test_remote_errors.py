"""What a host that cannot be used says: one line naming it and the reason, within the connect
timeout, and a status of 1 (nothing is run, nothing changed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from maqet_tui import __version__
from maqet_tui.protocol.agent import PROTOCOL
from tests.fleet.conftest import add_host
from tests.helpers import Env, make_env, remove_env, run_cli
from tests.sshd import Sshd, remote_command


def one_error_line(stderr: str) -> str:
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    return stderr


def test_unreachable_host(env: Env, sshd: Sshd) -> None:
    # A port nothing listens on (the sshd's own port, plus a closed one next to nothing).
    run_cli(env, "host", "add", "lab2", "u@127.0.0.1", "--ssh-option", "Port=1", check=True)
    t0 = time.monotonic()
    r = run_cli(env, "--host", "lab2", "ls")
    assert time.monotonic() - t0 < 10  # ConnectTimeout is 10; a refusal is immediate
    assert r.returncode == 1 and r.stdout == ""
    assert one_error_line(r.stderr) == (
        "error: host 'lab2' (u@127.0.0.1): ssh: connect to host 127.0.0.1 port 1: "
        "Connection refused\n"
    )


def test_wrong_key(env: Env, sshd: Sshd) -> None:
    opts = [f"--ssh-option={o}" for o in sshd.ssh_options(key=sshd.wrong_key)]
    run_cli(env, "host", "add", "lab", sshd.destination(), *opts, check=True)
    r = run_cli(env, "--host", "lab", "ls")
    assert r.returncode == 1 and r.stdout == ""
    line = one_error_line(r.stderr)
    assert line.startswith(f"error: host 'lab' ({sshd.destination()}): ssh: authentication failed")
    assert "Permission denied (publickey)" in line and "ssh-add" in line  # and never a prompt


def test_missing_remote_command(env: Env, sshd: Sshd) -> None:
    remote = make_env()
    try:
        add_host(env, sshd, remote, "lab", "--command", "/nonexistent/maqet-tui")
        r = run_cli(env, "--host", "lab", "ls")
        assert r.returncode == 1 and r.stdout == ""
        line = one_error_line(r.stderr)
        assert "maqet-tui is not installed there or not on the remote PATH" in line
        assert "/nonexistent/maqet-tui" in line and "--command /path/to/maqet-tui" in line
    finally:
        _close(env)
        remove_env(remote)


def test_version_mismatch(env: Env, sshd: Sshd) -> None:
    remote = make_env()
    try:
        command = remote_command(remote).replace("env ", "env MAQET_TUI_AGENT_PROTOCOL=2.0 ", 1)
        add_host(env, sshd, remote, "lab", "--command", command)
        r = run_cli(env, "--host", "lab", "ls")
        assert r.returncode == 1 and r.stdout == ""
        assert one_error_line(r.stderr) == (
            f"error: the agent on host 'lab' ({sshd.destination()}) speaks agent protocol 2.0 "
            f"(maqet-tui {__version__}), this maqet-tui speaks {PROTOCOL}: upgrade one side so "
            "the major versions match\n"
        )
    finally:
        _close(env)
        remove_env(remote)


def _close(env: Env) -> None:
    from maqet_tui.common.paths import Paths
    from maqet_tui.fleet import registry
    from maqet_tui.fleet.ssh import close_master
    from maqet_tui.store import models as store

    paths = Paths.resolve(env.home)
    for spec in registry.all_hosts(paths):
        close_master(spec, paths)
    store.close_db()


def test_a_silent_host_fails_within_the_connect_timeout(env: Env) -> None:
    # Accepts the TCP connection and never speaks SSH: the case of a wedged or firewalled host.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        run_cli(env, "host", "add", "mute", "u@127.0.0.1", f"--ssh-option=Port={port}", check=True)
        t0 = time.monotonic()
        r = subprocess.run(
            [sys.executable, "-m", "maqet_tui", "--host", "mute", "ls"],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "MAQET_TUI_HOME": str(env.home),
                 "MAQET_TUI_SSH_CONNECT_TIMEOUT": "2"},
        )  # fmt: skip
        took = time.monotonic() - t0
    assert r.returncode == 1 and r.stdout == ""
    assert one_error_line(r.stderr).startswith("error: host 'mute' (u@127.0.0.1): ssh: ")
    assert "timed out" in r.stderr
    assert 1.5 < took < 15  # the timeout, not a hang (generous: a loaded machine)
