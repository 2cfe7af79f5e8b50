"""The guest agent end to end: a real Debian 12 guest (qemu-guest-agent under systemd) booted once
for the module under TCG, with user-mode networking that reaches nothing (restrict=on).

What is proved: the runner follows the agent's port (VSERPORT_CHANGE), `show --json` reports the
guest's DHCP address, host name and OS from the agent, `exec` passes output and exit status
through, and an agent stopped in the guest reads as not connected until it is back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.manager import Manager
from maqet_tui.protocol.launch import AGENT_PORT_ID
from maqet_tui.store import models as store
from tests.helpers import Env, check_no_leaks, make_env, remove_env, run_cli, wait_for

pytestmark = pytest.mark.guest

IMAGE = "debian-12"
BOOT = 300.0  # seconds for the guest to boot and its agent to answer, under TCG on a busy host
USER_NET_ADDRESS = "10.0.2.15"  # what QEMU's user-mode DHCP gives the first guest


def images_dir() -> Path:
    """Where the suite's images are: `$MAQET_TUI_IMAGES`, else the per-user cache."""
    env = os.environ.get("MAQET_TUI_IMAGES")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "maqet-tui" / "images"


def debian_image() -> dict[str, Any]:
    """The built image's metadata (`image.json`), built here first unless the cache holds it
    (`image build` is a cache hit when nothing changed). Never skipped: no image is a failure."""
    root = images_dir()
    meta = root / IMAGE / "image.json"
    if not meta.is_file():
        done = subprocess.run(
            [sys.executable, "-m", "maqet_tui", "image", "build", IMAGE],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "MAQET_TUI_IMAGES": str(root)},
        )
        assert done.returncode == 0, f"image build failed: {done.stderr[-2000:]}"
    data: dict[str, Any] = json.loads(meta.read_text())
    for key in ("path", "kernel", "initrd"):
        data[key] = str(meta.parent / data[key])
    return data


@dataclass
class Booted:
    env: Env
    manager: Manager
    name: str = "deb1"

    def guest(self) -> dict[str, Any]:
        shown = run_cli(self.env, "show", self.name, "--json")
        assert shown.returncode == 0, shown.stderr
        guest: dict[str, Any] = json.loads(shown.stdout)["guest"]
        return guest

    def port_events(self) -> list[bool]:
        """The agent port's VSERPORT_CHANGE events so far, as open/closed, oldest first."""
        return [
            bool(ev["data"]["data"]["open"])
            for ev in self.manager.events(self.name, limit=300)
            if ev["kind"] == "qmp"
            and ev["name"] == "VSERPORT_CHANGE"
            and ev["data"]["data"]["id"] == AGENT_PORT_ID
        ]


@pytest.fixture(scope="module")
def debian() -> Iterator[Booted]:
    image = debian_image()
    env = make_env()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAQET_TUI_HOME", str(env.home))
        mp.setenv("MAQET_TUI_RUNTIME_DIR", str(env.runtime))
        mp.setenv("MAQET_TUI_ACCEL", "tcg")
        mp.setenv("MAQET_TUI_GUEST_POLL", "0.5")  # read by the runner
        manager = Manager(env.home)
        try:
            overlay = env.home / "deb1.qcow2"
            backing = ["-F", "qcow2", "-b", image["path"]]
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", *backing, str(overlay)], check=True
            )
            manager.add(
                "deb1",
                {
                    "memory": 512,
                    "accel": "tcg",
                    "kernel": image["kernel"],
                    "initrd": image["initrd"],
                    "append": image["append"],
                    "disks": [str(overlay)],
                    "agent": True,
                    "qemu_args": [
                        "-netdev",
                        "user,id=n0,restrict=on",  # nothing leaves this machine
                        "-device",
                        "virtio-net-pci,netdev=n0",
                    ],
                },
            )
            manager.start("deb1")
            booted = Booted(env, manager)
            wait_for(lambda: manager.guest("deb1")["agent"], BOOT, "the guest agent", step=0.5)
            yield booted
        finally:
            store.open_db(manager.paths.db)
            for vm in manager.list():
                if vm["status"] in LIVE:
                    manager.stop(vm["id"], force=True, timeout=10)
            store.close_db()
            problems = check_no_leaks(env)
            remove_env(env)
            assert not problems, problems


def test_the_agent_connects_and_reports_the_guest(debian: Booted) -> None:
    # The runner followed the port opening (recorded in the VM's event history).
    wait_for(lambda: debian.port_events()[:1] == [True], 10, "VSERPORT_CHANGE in the history")

    def leased() -> dict[str, Any] | None:
        g = debian.guest()
        return g if USER_NET_ADDRESS in g["ips"] else None

    guest = wait_for(leased, 60, "the DHCP lease")
    assert guest["agent"] is True
    assert "127.0.0.1" not in guest["ips"] and "::1" not in guest["ips"]
    assert isinstance(guest["hostname"], str) and guest["hostname"]
    assert guest["os"] == "Debian GNU/Linux 12 (bookworm)"
    plain = run_cli(debian.env, "show", "deb1").stdout
    assert f"guest:        agent connected; {USER_NET_ADDRESS}" in plain


def test_exec_passes_output_and_exit_status_through(debian: Booted) -> None:
    r = run_cli(debian.env, "exec", "deb1", "--", "uname", "-r")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+-cloud-amd64\n", r.stdout), r.stdout
    assert r.stderr == ""
    r = run_cli(debian.env, "exec", "deb1", "--", "hostname")
    assert r.stdout == f"{debian.guest()['hostname']}\n"
    r = run_cli(debian.env, "exec", "deb1", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    r = run_cli(debian.env, "exec", "deb1", "--", "no-such-program")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("error: cannot run 'no-such-program' in 'deb1': ")
    assert "No such file or directory" in r.stderr and r.stderr.count("\n") == 1


def test_an_agent_stopped_in_the_guest_is_not_connected_until_it_is_back(debian: Booted) -> None:
    # Stopped by a transient unit a second later, outside the agent's own process tree, so this
    # exec gets its answer first; started again a few seconds after that.
    r = run_cli(
        debian.env,
        "exec",
        "deb1",
        "--",
        "systemd-run",
        "--on-active=1",
        "/bin/sh",
        "-c",
        "systemctl stop qemu-guest-agent; sleep 8; systemctl start qemu-guest-agent",
    )
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not debian.guest()["agent"], 60, "the agent to disconnect", step=0.2)
    assert debian.guest() == {"agent": False, "ips": [], "hostname": None, "os": None}
    down = run_cli(debian.env, "exec", "deb1", "--", "true")
    assert down.returncode == 1
    assert down.stderr == (
        "error: the guest agent of 'deb1' is not connected "
        "(is qemu-guest-agent installed and running?)\n"
    )
    wait_for(lambda: debian.guest()["agent"], 120, "the agent to come back", step=0.2)
    wait_for(lambda: debian.port_events()[-3:] == [True, False, True], 10, "the port events")
    again = run_cli(debian.env, "exec", "deb1", "--", "echo", "back")
    assert (again.returncode, again.stdout) == (0, "back\n")
