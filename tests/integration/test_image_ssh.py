"""The session's two Debian VMs, `a` and `b` (tests/guests.py: booted once, `add --image
debian-12 --net isolated`, user-mode with restrict=on, so the guests reach nothing outside this
machine), checked from outside: SSH with the injected key prints each VM's name, the remote exit
status comes through, live forwards reach the guest's sshd, a snapshot of an overlay, a busy
forward port; then, LAST, the only tests that may stop or remove anything: `b` stops gracefully by
ACPI power-down and `rm --delete-disks` keeps the image, never written.

Every test that needs `b` or both VMs running lives here, before those last ones (the rule in
tests/guests.py). Without the boot (paid by whichever module asks first) the module takes about
20 s under TCG.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest

from tests.guests import IMAGE, Guests, banner, disk_stamp
from tests.helpers import wait_for

pytestmark = [pytest.mark.guest, pytest.mark.timeout(900)]  # the first test may wait for the boot


def test_ssh_right_after_start_waits_for_the_guest(debian_guests: Guests) -> None:
    first = debian_guests.first_ssh
    assert first is not None and first.returncode == 0, first and first.stderr
    assert first.stdout == "a\n"
    assert "waiting up to 180 s for the SSH server of a" in first.stderr


def test_ssh_with_the_injected_key_reaches_each_vm_by_its_name(debian_guests: Guests) -> None:
    a, b = debian_guests.ssh_port("a"), debian_guests.ssh_port("b")
    assert a != b
    for name in ("a", "b"):
        done = debian_guests.cli("ssh", name, "--", "hostname")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == name
    # the host keys went to the home's own known_hosts, under each VM's alias
    known = debian_guests.env.home / "ssh" / "known_hosts"
    for name in ("a", "b"):
        alias = f"maqet-{debian_guests.show(name)['id']}"
        found = subprocess.run(["ssh-keygen", "-F", alias, "-f", str(known)], capture_output=True)
        assert found.returncode == 0, f"no host key for {alias}"


def test_the_remote_exit_status_comes_through(debian_guests: Guests) -> None:
    assert debian_guests.cli("ssh", "a", "--", "sh", "-c", "exit 7").returncode == 7
    done = debian_guests.cli("ssh", "a", "--", "sh", "-c", "echo 'two words'; exit 0")
    assert (done.returncode, done.stdout) == (0, "two words\n")


def test_show_json_reports_the_network(debian_guests: Guests) -> None:
    vm = debian_guests.show("a")
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
    done = debian_guests.cli("ssh", "a", "--", "cat /sys/class/net/e*/address")
    assert done.stdout.strip() == net["mac"]


def test_a_live_forward_reaches_the_guests_sshd_and_goes_away(debian_guests: Guests) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert banner(port) is None
    done = debian_guests.cli("forward", "add", "b", f"tcp:{port}:22")
    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: banner(port), 10, "the new forward").startswith(b"SSH-2.0-")
    assert [f["host_port"] for f in debian_guests.show("b")["network"]["forwards"]][-1] == port
    done = debian_guests.cli("forward", "rm", "b", f"tcp:{port}")
    assert done.returncode == 0, done.stderr
    assert banner(port) is None
    assert port not in [f["host_port"] for f in debian_guests.show("b")["network"]["forwards"]]


def test_a_live_forward_to_a_busy_port_is_refused_clearly(debian_guests: Guests) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = debian_guests.cli("forward", "add", "b", f"tcp:{port}:22")
    assert done.returncode == 1 and f"127.0.0.1:{port} is in use" in done.stderr
    assert port not in [f["host_port"] for f in debian_guests.show("b")["network"]["forwards"]]


def test_a_snapshot_of_the_overlay(debian_guests: Guests) -> None:
    done = debian_guests.cli("snapshot", "a", "create", "s1", timeout=300)
    assert done.returncode == 0, done.stderr
    snaps = json.loads(debian_guests.cli("snapshot", "a", "list", "--json").stdout)
    assert [s["tag"] for s in snaps] == ["s1"]
    assert snaps[0]["disks"] == [debian_guests.show("a")["config"]["disks"][0]["file"]]
    assert debian_guests.cli("ssh", "a", "--", "true").returncode == 0  # still up and answering


def test_a_busy_forward_port_stops_a_start_with_one_clear_line(debian_guests: Guests) -> None:
    done = debian_guests.cli("add", "c", "--image", IMAGE, "--net", "isolated", "--accel", "tcg")
    assert done.returncode == 0, done.stderr
    port = debian_guests.ssh_port("c")
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        done = debian_guests.cli("start", "c")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"forward tcp 127.0.0.1:{port} of VM 'c' is in use" in done.stderr
    assert "maqet-tui forward rm c" in done.stderr
    assert debian_guests.show("c")["status"] == "stopped"
    assert debian_guests.cli("rm", "c", "--delete-disks").returncode == 0


# -- destructive, and so last: only `b` is ever stopped or removed (tests/guests.py) --


def test_graceful_stop_powers_b_off_and_rm_delete_disks_keeps_the_image(
    debian_guests: Guests,
) -> None:
    g = debian_guests
    t0 = time.monotonic()
    done = g.cli("stop", "b")
    took = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    vm = g.show("b")
    assert vm["status"] == "stopped" and vm["last_error"] is None
    assert took < 30  # the guest powered itself off: QEMU never had to be told to quit
    shutdowns = [e for e in g.events("b") if e["name"] == "SHUTDOWN"]
    assert shutdowns and shutdowns[-1]["data"]["data"]["guest"] is True  # ACPI, not QEMU
    assert "reboot: Power down" in g.serial("b")
    assert g.show("a")["status"] == "running"  # the other one is untouched
    vm_dir = g.env.home / "vms" / vm["id"]
    assert (vm_dir / "root.qcow2").is_file() and (vm_dir / "seed.img").is_file()
    assert g.cli("rm", "b", "--delete-disks").returncode == 0
    assert not vm_dir.exists()
    # the image's disk was never written, by either guest's boot or b's removal
    assert disk_stamp(g.disk) == g.disk_before
