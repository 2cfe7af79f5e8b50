"""The starter/runner contract (protocol.launch): placeholders, and what the runner may load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from maqet_tui.core.config import VMConfig, build_argv
from maqet_tui.protocol.launch import FD_PLACEHOLDERS, QMP_FD, SERIAL_FD, fill_fds

ROOT = Path(__file__).resolve().parents[3]


def test_argv_carries_the_placeholders_the_runner_fills() -> None:
    argv = build_argv("abcd1234", "web", VMConfig.from_dict({}))
    joined = " ".join(argv)
    assert QMP_FD in joined and SERIAL_FD in joined
    filled = fill_fds(argv, 7, 9)
    assert not any(p in a for a in filled for p in FD_PLACEHOLDERS)
    assert "socket,id=maqet-qmp,fd=7" in filled
    assert "socket,id=maqet-serial,fd=9" in filled


def test_runner_start_path_loads_neither_typing_nor_the_store() -> None:
    """QEMU is spawned before these are imported (runner/__main__.py); the store operations are
    typed functions that import the store on the store thread only."""
    code = (
        "import sys, runner.qemu;"
        "assert 'typing' not in sys.modules, 'typing';"
        "import runner.store_io, runner.service;"
        "bad = [m for m in ('peewee', 'maqet_tui.store.models') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_agent_placeholder_is_filled_only_where_it_is() -> None:
    from maqet_tui.protocol.launch import QGA_FD, wants_agent

    plain = build_argv("abcd1234", "web", VMConfig.from_dict({}))
    assert not wants_agent(plain)
    assert fill_fds(plain, 7, 9) == fill_fds(plain, 7, 9, 11)
    with_agent = build_argv("abcd1234", "web", VMConfig.from_dict({"agent": True}))
    assert wants_agent(with_agent)
    filled = fill_fds(with_agent, 7, 9, 11)
    assert "socket,id=maqet-qga,fd=11" in filled
    assert not any(QGA_FD in a for a in filled)


def test_a_runner_without_an_agent_channel_never_loads_the_agent_code() -> None:
    code = (
        "import sys, runner.service, runner.api;"
        "bad = [m for m in ('runner.guest_agent_link', 'runner.guest_watch', 'runner.guest_exec')"
        " if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
