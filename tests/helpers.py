"""Shared test helpers: isolated homes, process scans for leaks, polling with deadlines."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from maqet_tui.common.procs import is_alive
from maqet_tui.core import ipc_client

T = TypeVar("T")


# A billion laughs in YAML: under 450 bytes whose aliases expand to 9**9 (387 million) strings.
ALIAS_BOMB = "cpu:\n  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  - &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@dataclass
class Env:
    home: Path
    runtime: Path


def make_env() -> Env:
    # Short paths under /tmp: AF_UNIX socket paths must stay under 108 bytes.
    home = Path(tempfile.mkdtemp(prefix="mqh-", dir="/tmp"))
    runtime = Path(tempfile.mkdtemp(prefix="mqr-", dir="/tmp"))
    return Env(home=home, runtime=runtime)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def serving(home: Path, marker: bytes) -> list[int]:
    """The processes whose argv contains `marker` (NUL-separated words) and that serve `home`
    (by their MAQET_TUI_HOME): an agent, a console run over ssh..."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if marker in cmd and str(home) in runtime_of(int(entry)):
                found.append(int(entry))
    return found


def runtime_of(pid: int) -> set[str]:
    """The runtime dir and home a runner or QEMU was started for: they inherit
    MAQET_TUI_RUNTIME_DIR and MAQET_TUI_HOME, which tell this test's processes apart from anybody
    else's on the machine (a test may start a VM without the runtime variable)."""
    found = set()
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for var in f.read().split(b"\0"):
                if var.startswith((b"MAQET_TUI_RUNTIME_DIR=", b"MAQET_TUI_HOME=")):
                    found.add(var.split(b"=", 1)[1].decode(errors="replace"))
    except OSError:
        pass
    return found


def vm_processes(runtimes: set[str] | None = None) -> dict[int, str]:
    """Live runner and QEMU processes (zombies excluded), optionally only those of `runtimes`."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        cmd = _cmdline(pid)
        is_vm_process = "qemu-system" in cmd or " -m runner " in f" {cmd} "
        if (
            is_vm_process
            and not _is_zombie(pid)
            and (runtimes is None or bool(runtime_of(pid) & runtimes))
        ):
            found[pid] = cmd
    return found


def run_cli(env: Env, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """`maqet-tui ARGS` in a separate process, as a user would run it, on the test's home."""
    return subprocess.run(
        [sys.executable, "-m", "maqet_tui", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
        env={**os.environ, "MAQET_TUI_HOME": str(env.home)},
    )


def wait_for(
    pred: Callable[[], T | None],
    timeout: float = 10.0,
    what: str = "condition",
    step: float = 0.01,
) -> T:
    """Poll `pred` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


def ssh_processes(marks: set[str]) -> dict[int, str]:
    """Live ssh clients, ssh control masters (`ssh: PATH [mux]`) and sshd servers whose command
    line names one of `marks` (a test's runtime dir, where control sockets live; the directory of
    a test sshd, tests/sshd.py)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        cmd = _cmdline(pid)
        if (
            cmd.split(" ", 1)[0].rstrip(":") in ("ssh", "sshd", "/usr/sbin/sshd", "/usr/bin/ssh")
            and any(m in cmd for m in marks)
            and not _is_zombie(pid)
        ):
            found[pid] = cmd
    return found


def check_no_leaks(env: Env) -> list[str]:
    """Problems left by a test: processes, sockets, lock files. Kills what it finds."""
    problems: list[str] = []
    mine = {str(env.runtime), str(env.home)}
    deadline = time.monotonic() + 5
    for what, find in (("process", vm_processes), ("ssh process", ssh_processes)):
        leaked = find(mine)
        while leaked and time.monotonic() < deadline:  # a process on its way out gets a moment
            time.sleep(0.02)
            leaked = find(mine)
        for pid, cmd in leaked.items():
            problems.append(f"leaked {what} {pid}: {cmd}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for d in (env.runtime,):
        if d.exists():
            for f in d.rglob("*"):
                if f.suffix in (".sock", ".lock"):
                    problems.append(f"left behind: {f}")
    return problems


def remove_env(env: Env) -> None:
    shutil.rmtree(env.home, ignore_errors=True)
    shutil.rmtree(env.runtime, ignore_errors=True)
    assert not env.home.exists() and not env.runtime.exists()


@contextlib.contextmanager
def sigstopped(pid: int, started: int | None = None) -> Iterator[None]:
    """`pid` stopped by SIGSTOP for the block, continued after it whatever happened (unless it
    is gone, or is no longer the process started at `started`)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        if is_alive(pid, started):
            os.kill(pid, signal.SIGCONT)


class ConsoleReader:
    """Collects console text from a subscription until a marker shows up."""

    def __init__(self, client: ipc_client.IPCClient) -> None:
        self.client = client
        self.text = ""

    def until(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {marker!r} on the console; got {self.text[-500:]!r}")
            msg = self.client.read_message(timeout=remaining)
            if msg.get("event") == "console":
                self.text += msg["data"]["text"]
        return self.text
