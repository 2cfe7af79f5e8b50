"""The real `maqet-tui` in a real terminal (tmux at 80x24), as a person drives it: a full-screen
program in the guest is drawn in the Console pane and left again from the keyboard."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from maqet_tui.core.demo import ensure_demo
from maqet_tui.core.manager import Manager
from tests.guests import Guests
from tests.helpers import Env, wait_for

BOOT = 60.0


class Tmux:
    """One private tmux server (its own socket) running one command at 80x24."""

    def __init__(self, sock: Path) -> None:
        self.base = ["tmux", "-S", str(sock)]

    def run(self, *args: str) -> str:
        out = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=30, check=True
        )
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def alive(self) -> bool:
        """Is the session (the app in it) still there?"""
        out = subprocess.run([*self.base, "has-session", "-t", "t"], capture_output=True)
        return out.returncode == 0

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def ssh_round_trip(self, marker: str, back: str) -> None:
        """From the table with the cursor on the Debian guest `a`: `x` gives the terminal to a
        shell in the guest, which answers `MARKER-42`; `exit` gives it back to the app (whose
        table shows `back`), which redraws the whole screen over the session."""
        self.keys("x")
        wait_for(lambda: "debian@a:" in self.screen(), timeout=120, what="a shell in the guest")
        self.keys(f"echo {marker}-$((6*7))", literal=True)
        self.keys("Enter")
        wait_for(lambda: f"{marker}-42" in self.screen(), 30, "the guest's shell answering")
        self.keys("exit", literal=True)
        self.keys("Enter")
        wait_for(lambda: "NAME" in self.screen() and back in self.screen(), 30, "the app back")
        assert f"{marker}-42" not in self.screen()


@pytest.fixture
def tmux(env: Env) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: scripts/setup installs it")
    t = Tmux(env.runtime / "tmux-server")
    yield t
    subprocess.run([*t.base, "kill-server"], capture_output=True, timeout=30)


def test_vi_full_screen_in_the_console_pane_and_back(
    manager: Manager, env: Env, tmux: Tmux
) -> None:
    ensure_demo(manager)
    manager.start("demo")
    command = (
        f"env MAQET_TUI_HOME={env.home} MAQET_TUI_RUNTIME_DIR={env.runtime} "
        f"{sys.executable} -m maqet_tui"
    )
    tmux.run("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", command)
    wait_for(lambda: "demo" in tmux.screen(), timeout=30, what="the VM list")
    tmux.keys("5")
    wait_for(lambda: "/ #" in tmux.screen(), timeout=BOOT, what="the guest's shell prompt")
    tmux.keys("Escape")  # from the tab's line prompt back to the list, where `i` is offered
    # (a key sent right behind Esc would arrive as Alt+key, as from any terminal)
    wait_for(lambda: "Type into guest" in tmux.screen(), timeout=30, what="the list's keys")
    tmux.keys("i")  # raw mode: every key goes to the guest
    wait_for(lambda: "RAW" in tmux.screen(), timeout=30, what="raw mode")
    tmux.keys("vi /tmp/x", literal=True)
    tmux.keys("Enter")

    def vi_full_screen() -> bool:
        rows = tmux.screen().splitlines()
        return sum(r.strip().startswith("~") for r in rows) >= 8 and any(
            "/tmp/x" in r for r in rows
        )

    wait_for(vi_full_screen, timeout=30, what="vi drawn over the whole pane")
    tmux.keys(":q!", literal=True)
    tmux.keys("Enter")

    def fresh_prompt() -> bool:
        return not vi_full_screen() and any(r.strip() == "/ #" for r in tmux.screen().splitlines())

    wait_for(fresh_prompt, timeout=30, what="vi gone and a fresh shell prompt")
    tmux.keys("C-]")  # leave raw mode, then quit: the VM keeps running
    tmux.keys("q")
    wait_for(lambda: not tmux.alive(), timeout=30, what="the app to quit")
    assert manager.get("demo")["status"] == "running"  # quitting never stops a VM
    manager.stop("demo", force=True)


def test_x_hands_the_terminal_to_ssh_and_takes_it_back(
    debian_guests: Guests, env: Env, tmux: Tmux
) -> None:
    """`x` on a running guest: the app steps aside, `maqet-tui ssh` runs in the same terminal
    (a real shell in the guest, its output on the screen), and `exit` brings the app back."""
    keep = ("HOME", "PATH", "MAQET_TUI_HOME", "MAQET_TUI_RUNTIME_DIR", "MAQET_TUI_IMAGES")
    env_words = [f"{k}={v}" for k, v in debian_guests.vars.items() if k in keep]
    tmux.run(
        "new-session", "-d", "-s", "t", "-x", "80", "-y", "24",
        shlex.join(["env", *env_words, sys.executable, "-m", "maqet_tui"]),
    )  # fmt: skip
    wait_for(lambda: "running" in tmux.screen(), timeout=30, what="the guest listed, running")
    # `a` is the pair's VM that always runs; put the cursor on it whatever else is listed.
    wait_for(lambda: "SSH" in tmux.screen(), timeout=30, what="x offered for the running guest")
    tmux.keys("g")
    tmux.ssh_round_trip("TUI", "STATUS")
    assert tmux.alive()
    tmux.keys("q")
    wait_for(lambda: not tmux.alive(), timeout=30, what="the app to quit")
    assert debian_guests.show("a")["status"] == "running"
