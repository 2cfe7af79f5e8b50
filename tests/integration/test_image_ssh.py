"""Two VMs booted at once from the real Debian image, on `--net isolated` (user-mode with
restrict=on: the guests reach nothing outside this machine), then many checks on them: SSH with
the injected key prints each VM's name, the remote exit status comes through, live forwards reach
the guest's sshd, a snapshot of an overlay, a busy forward port, graceful stop, and
`rm --delete-disks` keeping the image.

The image is the suite's shared build (tests/images.py). Both guests boot in parallel: about 85 s
of wall time under TCG on two cores for the whole module, most of it the boot.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core.images import Image
from maqet_tui.core.manager import Manager
from maqet_tui.store import models as store
from tests.helpers import Env, check_no_leaks, make_env, remove_env, wait_for

IMAGE = "debian-12"
BOOT_DEADLINE = 300.0  # generous: two TCG guests booting side by side on a loaded machine
pytestmark = [pytest.mark.guest, pytest.mark.timeout(900)]  # the first test waits for the boot


class Guests:
    """The module's home and its two running VMs, `a` and `b`."""

    def __init__(self, env: Env, image: Path) -> None:
        self.env = env
        self.image = image
        self.first_ssh: subprocess.CompletedProcess[str] | None = None

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maqet_tui", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def show(self, name: str) -> dict[str, Any]:
        done = self.cli("show", name, "--json")
        assert done.returncode == 0, done.stderr
        vm: dict[str, Any] = json.loads(done.stdout)
        return vm

    def ssh_port(self, name: str) -> int:
        return int(self.show(name)["network"]["forwards"][0]["host_port"])


def banner(port: int) -> bytes | None:
    """The SSH server's greeting on a forwarded port, or None (not up yet, or not forwarded)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.settimeout(3)
            data = s.recv(64)
    except OSError:
        return None
    return data if data.startswith(b"SSH-") else None


@pytest.fixture(scope="module")
def guests(debian_image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guests]:
    image = debian_image.disk.parent
    env = make_env()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAQET_TUI_HOME", str(env.home))
        mp.setenv("MAQET_TUI_RUNTIME_DIR", str(env.runtime))
        mp.setenv("MAQET_TUI_ACCEL", "tcg")
        mp.setenv("MAQET_TUI_IMAGES", str(image.parent))
        mp.setenv("HOME", str(tmp_path_factory.mktemp("user")))  # no ~/.ssh: a key is made
        g = Guests(env, image)
        try:
            for name in ("a", "b"):
                done = g.cli("add", name, "--image", IMAGE, "--net", "isolated", "--accel", "tcg")
                assert done.returncode == 0, done.stderr
            for name in ("a", "b"):
                done = g.cli("start", name)
                assert done.returncode == 0, done.stderr
            # `ssh` at once after `start` waits for the guest's sshd by itself: the two-command
            # path of the README (checked in the first test)
            g.first_ssh = g.cli("ssh", "a", "--", "hostname", timeout=BOOT_DEADLINE)
            port = g.ssh_port("b")
            wait_for(partial(banner, port), BOOT_DEADLINE, "sshd of b", step=0.5)
            yield g
        finally:
            m = Manager(env.home)
            for vm in m.list():
                with contextlib.suppress(Exception):
                    m.stop(vm["id"], force=True, timeout=10)
            store.close_db()
            problems = check_no_leaks(env)
            remove_env(env)
            assert not problems, problems


def test_ssh_right_after_start_waits_for_the_guest(guests: Guests) -> None:
    first = guests.first_ssh
    assert first is not None and first.returncode == 0, first and first.stderr
    assert first.stdout == "a\n"
    assert "waiting up to 180 s for the SSH server of a" in first.stderr


def test_ssh_with_the_injected_key_reaches_each_vm_by_its_name(guests: Guests) -> None:
    a, b = guests.ssh_port("a"), guests.ssh_port("b")
    assert a != b
    for name in ("a", "b"):
        done = guests.cli("ssh", name, "--", "hostname")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == name
    # the host keys went to the home's own known_hosts, under each VM's alias
    known = guests.env.home / "ssh" / "known_hosts"
    for name in ("a", "b"):
        alias = f"maqet-{guests.show(name)['id']}"
        found = subprocess.run(["ssh-keygen", "-F", alias, "-f", str(known)], capture_output=True)
        assert found.returncode == 0, f"no host key for {alias}"


def test_the_remote_exit_status_comes_through(guests: Guests) -> None:
    assert guests.cli("ssh", "a", "--", "sh", "-c", "exit 7").returncode == 7
    done = guests.cli("ssh", "a", "--", "sh", "-c", "echo 'two words'; exit 0")
    assert (done.returncode, done.stdout) == (0, "two words\n")


def test_show_json_reports_the_network(guests: Guests) -> None:
    vm = guests.show("a")
    net = vm["network"]
    assert net["mode"] == "isolated" and net["mac"] == vm["config"]["mac"]
    assert net["forwards"] == [
        {
            "proto": "tcp",
            "host_addr": "127.0.0.1",
            "host_port": net["forwards"][0]["host_port"],
            "guest_port": 22,
        }
    ]
    # what the guest sees: its NIC has the MAC, and the isolated network gave it an address
    done = guests.cli("ssh", "a", "--", "cat /sys/class/net/e*/address")
    assert done.stdout.strip() == net["mac"]


def test_a_live_forward_reaches_the_guests_sshd_and_goes_away(guests: Guests) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert banner(port) is None
    done = guests.cli("forward", "add", "b", f"tcp:{port}:22")
    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: banner(port), 10, "the new forward").startswith(b"SSH-2.0-")
    assert [f["host_port"] for f in guests.show("b")["network"]["forwards"]][-1] == port
    done = guests.cli("forward", "rm", "b", f"tcp:{port}")
    assert done.returncode == 0, done.stderr
    assert banner(port) is None
    assert port not in [f["host_port"] for f in guests.show("b")["network"]["forwards"]]


def test_a_live_forward_to_a_busy_port_is_refused_clearly(guests: Guests) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = guests.cli("forward", "add", "b", f"tcp:{port}:22")
    assert done.returncode == 1 and f"127.0.0.1:{port} is in use" in done.stderr
    assert port not in [f["host_port"] for f in guests.show("b")["network"]["forwards"]]


def test_a_snapshot_of_the_overlay(guests: Guests) -> None:
    done = guests.cli("snapshot", "a", "create", "s1", timeout=300)
    assert done.returncode == 0, done.stderr
    snaps = json.loads(guests.cli("snapshot", "a", "list", "--json").stdout)
    assert [s["tag"] for s in snaps] == ["s1"]
    assert snaps[0]["disks"] == [guests.show("a")["config"]["disks"][0]["file"]]
    assert guests.cli("ssh", "a", "--", "true").returncode == 0  # still up and answering


def test_a_busy_forward_port_stops_a_start_with_one_clear_line(guests: Guests) -> None:
    done = guests.cli("add", "c", "--image", IMAGE, "--net", "isolated", "--accel", "tcg")
    assert done.returncode == 0, done.stderr
    port = guests.ssh_port("c")
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        done = guests.cli("start", "c")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"forward tcp 127.0.0.1:{port} of VM 'c' is in use" in done.stderr
    assert "maqet-tui forward rm c" in done.stderr
    assert guests.show("c")["status"] == "stopped"
    assert guests.cli("rm", "c", "--delete-disks").returncode == 0


def test_graceful_stop_completes_and_rm_delete_disks_keeps_the_image(guests: Guests) -> None:
    disk = guests.image / "disk.qcow2"
    before = (disk.stat().st_size, disk.stat().st_mtime_ns)
    t0 = time.monotonic()
    done = guests.cli("stop", "b")
    took = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    vm = guests.show("b")
    assert vm["status"] == "stopped" and vm["last_error"] is None
    assert took < 30  # the guest powered itself off: QEMU never had to be told to quit
    serial = (guests.env.home / "logs" / f"{vm['id']}.serial.log").read_text(errors="replace")
    assert "reboot: Power down" in serial
    vm_dir = guests.env.home / "vms" / vm["id"]
    assert (vm_dir / "root.qcow2").is_file() and (vm_dir / "seed.img").is_file()
    assert guests.cli("rm", "b", "--delete-disks").returncode == 0
    assert not vm_dir.exists()
    assert (disk.stat().st_size, disk.stat().st_mtime_ns) == before
