"""The suite's two running Debian 12 guests, `a` and `b`, booted once per session.

A TCG boot of the real image costs 35-60 s on two cores, so the modules that need a running
Debian guest (test_image_ssh, test_image_boot, test_guest_agent) share one pair, booted by the
session fixture `debian_guests` (tests/conftest.py): both made by `add --image debian-12 --net
isolated` (user-mode networking with restrict=on: nothing leaves this machine; the guest agent
channel on), started side by side, and ready when both sshd banners answer on their forwards and
the guest agent of `a` is connected.

The pair lives in its own home and runtime directory and never touches the process environment:
every command runs as a separate `maqet-tui` process given an explicit environment (`Guests.vars`),
and the runners inherit it from there (MAQET_TUI_GUEST_POLL=0.5 included, which the runner reads
for the agent tests). So the per-test `env` fixture of any other test, run while the pair is up,
sees nothing of it, and the pair sees nothing of that test's variables.

THE RULE that keeps the order of tests and modules irrelevant:
- `a` is never stopped, restarted or changed destructively. Tests read it, ssh and exec into it,
  add forwards and remove them again, take snapshots that leave it running, and may stop its
  guest agent only if they wait for it to be back before they end.
- `b` is the only one any test may stop or remove, and only the destructive tests at the end of
  tests/integration/test_image_ssh.py do (graceful stop by ACPI, `rm --delete-disks` keeping the
  image). So every other test that needs `b`, or both VMs running at once, lives in that module
  before them; tests elsewhere use `a` alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.images import Image
from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from tests.helpers import Env, check_no_leaks, make_env, remove_env, wait_for

IMAGE = "debian-12"
BOOT_DEADLINE = 300.0  # generous: two TCG guests booting side by side on a loaded machine
GUEST_POLL = "0.5"  # seconds between the runner's agent polls: a new lease shows at once
# Of the caller's MAQET_TUI_* variables only these reach the pair's processes; the rest (a test's
# MAQET_TUI_HOME, MAQET_TUI_RUNTIME_DIR...) belong to that test.
INHERITED = ("MAQET_TUI_GUEST_CACHE",)


def guest_vars(env: Env, images: Path, user_home: Path) -> dict[str, str]:
    """The environment of every command run for the pair."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAQET_TUI_") or k in INHERITED}
    return {
        **base,
        "MAQET_TUI_HOME": str(env.home),
        "MAQET_TUI_RUNTIME_DIR": str(env.runtime),
        "MAQET_TUI_ACCEL": "tcg",
        "MAQET_TUI_IMAGES": str(images),
        "MAQET_TUI_GUEST_POLL": GUEST_POLL,
        "HOME": str(user_home),  # no ~/.ssh there: the home gets a key pair of its own
    }


class Guests:
    """The pair's home and its two running VMs, `a` and `b`."""

    def __init__(self, env: Env, image: Image, user_home: Path) -> None:
        self.env = env
        self.disk = image.disk  # what the overlays of `a` and `b` are backed by
        self.disk_before = disk_stamp(image.disk)  # before either VM was made
        self.vars = guest_vars(env, image.disk.parent.parent, user_home)
        # `ssh a` run at once after `start`: it waits for the sshd by itself (test_image_ssh)
        self.first_ssh: subprocess.CompletedProcess[str] | None = None

    def cli(
        self, *args: str, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`maqet-tui ARGS` on the pair's home, as a user would run it (`stdin`: what it reads)."""
        return subprocess.run(
            [sys.executable, "-m", "maqet_tui", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.vars,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
        )

    def show(self, name: str) -> dict[str, Any]:
        done = self.cli("show", name, "--json")
        assert done.returncode == 0, done.stderr
        vm: dict[str, Any] = json.loads(done.stdout)
        return vm

    def guest(self, name: str) -> dict[str, Any]:
        """What `show --json` says the guest agent reports."""
        guest: dict[str, Any] = self.show(name)["guest"]
        return guest

    def reported(self, name: str) -> dict[str, Any]:
        """The same report asked in this process (what `show` does, without starting Python
        again): cheap enough to poll while TCG guests want the CPU."""
        try:
            return Manager(self.env.home, reconcile=False).guest(name)
        finally:
            store.close_db()

    def ssh_port(self, name: str) -> int:
        return int(self.show(name)["network"]["forwards"][0]["host_port"])

    def serial(self, name: str) -> str:
        """The VM's serial log so far."""
        log = self.env.home / "logs" / f"{self.show(name)['id']}.serial.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def events(self, name: str, limit: int = 10_000) -> list[dict[str, Any]]:
        """The VM's event history, oldest first (no command prints it). Read through the store
        of this process, which is left closed again for the test's own Manager."""
        try:
            return Manager(self.env.home, reconcile=False).events(name, limit)
        finally:
            store.close_db()


def disk_stamp(path: Path) -> tuple[int, int]:
    """Size and modification time: what any write to the file would change."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def banner(port: int) -> bytes | None:
    """The SSH server's greeting on a forwarded port, or None (not up yet, or not forwarded)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.settimeout(3)
            data = s.recv(64)
    except OSError:
        return None
    return data if data.startswith(b"SSH-") else None


@contextlib.contextmanager
def booted_guests(image: Image, user_home: Path) -> Iterator[Guests]:
    """`a` and `b` running and ready (see the module docstring); afterwards every VM of the
    pair's home stopped, the leak check passed and the home and runtime directory gone."""
    env = make_env()
    try:
        g = Guests(env, image, user_home)
    except BaseException:
        remove_env(env)
        raise
    try:
        for name in ("a", "b"):
            done = g.cli("add", name, "--image", IMAGE, "--net", "isolated", "--accel", "tcg")
            assert done.returncode == 0, done.stderr
        for name in ("a", "b"):
            done = g.cli("start", name)
            assert done.returncode == 0, done.stderr
        g.first_ssh = g.cli("ssh", "a", "--", "hostname", timeout=BOOT_DEADLINE)
        wait_for(partial(banner, g.ssh_port("b")), BOOT_DEADLINE, "sshd of b", step=0.5)
        wait_for(lambda: g.reported("a")["agent"], BOOT_DEADLINE, "the guest agent of a", step=0.5)
        yield g
    finally:
        stop_all(g)
        problems = check_no_leaks(g.env)
        remove_env(g.env)
        assert not problems, problems


def stop_all(g: Guests) -> None:
    """Stop whatever of the pair's home still runs, through the product's own stop path."""
    listed = g.cli("ls", "--json")
    for vm in json.loads(listed.stdout) if listed.returncode == 0 else []:
        if vm["status"] in LIVE:
            with contextlib.suppress(subprocess.TimeoutExpired):
                g.cli("stop", vm["name"], "--force", "--timeout", "10")
