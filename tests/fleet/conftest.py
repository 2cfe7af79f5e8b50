"""Fixtures for the fleet tests: a real sshd on 127.0.0.1 (one per module), and a "remote host"
that is this machine seen through it, with its own home and runtime directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from maqet_tui.common.paths import Paths
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.manager import Manager
from maqet_tui.fleet import registry
from maqet_tui.fleet.ssh import close_master
from maqet_tui.store import models as store
from tests.helpers import Env, check_no_leaks, make_env, remove_env, run_cli, serving, wait_for
from tests.sshd import Sshd, remote_command


def agents(remote: Env) -> list[int]:
    """The `agent --stdio` processes serving `remote`'s home."""
    return serving(remote.home, b"agent\0--stdio")


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    server = Sshd()
    yield server
    problems = server.stop()
    if problems:
        pytest.fail("the test sshd left things behind:\n  " + "\n  ".join(problems))


@dataclass
class Lab:
    """The host `lab` as this machine's store knows it, and its own home on the far side."""

    name: str
    env: Env  # this machine's (the test's)
    remote: Env  # the host's home and runtime directory
    sshd: Sshd

    def cli(self, *args: str) -> object:
        return run_cli(self.env, *args)

    def remote_manager(self) -> Manager:
        store.close_db()
        return Manager(self.remote.home)


def add_host(env: Env, sshd: Sshd, remote: Env, name: str = "lab", *extra: str) -> None:
    """`host add NAME` for the test sshd, reaching `remote`'s home (extra options last: a
    second --command wins)."""
    opts = [f"--ssh-option={o}" for o in sshd.ssh_options()]
    r = run_cli(
        env,
        "host",
        "add",
        name,
        sshd.destination(),
        "--command",
        remote_command(remote),
        *opts,
        *extra,
    )
    assert r.returncode == 0, r.stderr


@pytest.fixture
def lab(env: Env, sshd: Sshd) -> Iterator[Lab]:
    remote = make_env()
    add_host(env, sshd, remote)
    yield Lab("lab", env, remote, sshd)
    # Stop whatever the test left running on the far side, close the shared connections, and
    # prove nothing is left there either (the env fixture checks this side).
    store.close_db()
    m = Manager(remote.home)
    for vm in m.list():
        if vm["status"] in LIVE:
            m.stop(vm["id"], force=True, timeout=10)
    store.close_db()
    paths = Paths.resolve(env.home)
    for spec in registry.all_hosts(paths):
        close_master(spec, paths)
    store.close_db()
    wait_for(lambda: not agents(remote), 15, "the remote agents to end")
    problems = check_no_leaks(remote)
    remove_env(remote)
    if problems:
        pytest.fail("the remote side was left with:\n  " + "\n  ".join(problems))
