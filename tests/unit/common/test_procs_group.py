"""Process-group kills by identity tag: the group is signalled only if a live member carries the
tag, whichever member (a wrapper's child included), and never our own group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from maqet_tui.common.procs import (
    cmdline,
    group_members,
    kill_group_if_tagged,
    process_state,
    wait_group_gone,
)
from tests.helpers import wait_for

MARK = "maqet-test-0b5e55ed"


@pytest.fixture
def group() -> Iterator[subprocess.Popen[bytes]]:
    """A group whose leader's argv lacks the tag while its child's argv has it (the shell builds
    the tag at run time), like a wrapper script around QEMU."""
    half = len(MARK) // 2
    script = f'm={MARK[:half]}; sh -c "sleep 60; : ${{m}}{MARK[half:]}" & wait'
    leader = subprocess.Popen(["sh", "-c", script], process_group=0)
    yield leader
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)
    leader.wait()


def tagged_members(pgid: int) -> list[int]:
    return [p for p in group_members(pgid) if any(MARK in a for a in cmdline(p))]


def test_refuses_a_group_without_the_tag(group: subprocess.Popen[bytes]) -> None:
    wait_for(lambda: tagged_members(group.pid), 5, "the tagged child")
    assert not kill_group_if_tagged(group.pid, "maqet-someone-else")
    assert not kill_group_if_tagged(None, MARK) and not kill_group_if_tagged(0, MARK)
    assert not kill_group_if_tagged(os.getpgrp(), MARK)
    assert group.poll() is None and len(group_members(group.pid)) == 3
    assert not wait_group_gone(group.pid, 0.05)


def test_kills_the_whole_group_once_the_leader_is_gone(group: subprocess.Popen[bytes]) -> None:
    (child,) = wait_for(lambda: tagged_members(group.pid), 5, "the tagged child")
    os.kill(group.pid, signal.SIGKILL)  # the wrapper dies; its children stay in its group
    group.wait()
    assert group_members(group.pid)
    assert kill_group_if_tagged(group.pid, MARK)
    assert wait_group_gone(group.pid, 5)
    assert group_members(group.pid) == [] and process_state(child) in ("gone", "exited (zombie)")
    assert not kill_group_if_tagged(group.pid, MARK)  # nothing left to kill


def test_process_state_names_a_stopped_process(group: subprocess.Popen[bytes]) -> None:
    os.kill(group.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: process_state(group.pid) == "stopped by a signal", 5, "state T")
    finally:
        os.kill(group.pid, signal.SIGCONT)
    assert process_state(2**22 + 1) == "gone"
