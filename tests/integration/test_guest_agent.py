"""The guest agent end to end, on VM `a` of the session's Debian pair (tests/guests.py: the real
Debian 12 image with qemu-guest-agent under systemd, under TCG, on user-mode networking that
reaches nothing, and the runner polling the agent every 0.5 s).

What is proved: the runner follows the agent's port (VSERPORT_CHANGE), `show --json` reports the
guest's DHCP address, host name (the VM's name, set by the seed) and OS from the agent, `exec`
passes output and exit status through, and an agent stopped in the guest reads as not connected
until it is back. That last test leaves `a` as it found it: the agent connected again.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from maqet_tui.protocol.launch import AGENT_PORT_ID
from tests.guests import Guests
from tests.helpers import wait_for

pytestmark = [pytest.mark.guest, pytest.mark.timeout(900)]  # the first test may wait for the boot

USER_NET_ADDRESS = "10.0.2.15"  # what QEMU's user-mode DHCP gives the first guest


def port_events(g: Guests) -> list[bool]:
    """The agent port's VSERPORT_CHANGE events of `a` so far, as open/closed, oldest first."""
    return [
        bool(ev["data"]["data"]["open"])
        for ev in g.events("a")
        if ev["kind"] == "qmp"
        and ev["name"] == "VSERPORT_CHANGE"
        and ev["data"]["data"]["id"] == AGENT_PORT_ID
    ]


def test_the_agent_connects_and_reports_the_guest(debian_guests: Guests) -> None:
    g = debian_guests
    # The runner followed the port opening (recorded in the VM's event history).
    wait_for(lambda: port_events(g)[:1] == [True], 10, "VSERPORT_CHANGE in the history")

    def leased() -> dict[str, Any] | None:
        guest = g.guest("a")
        return guest if USER_NET_ADDRESS in guest["ips"] else None

    guest = wait_for(leased, 60, "the DHCP lease")
    assert guest["agent"] is True
    assert "127.0.0.1" not in guest["ips"] and "::1" not in guest["ips"]
    assert guest["hostname"] == "a"
    assert guest["os"] == "Debian GNU/Linux 12 (bookworm)"
    plain = g.cli("show", "a").stdout
    assert f"guest:        agent connected; {USER_NET_ADDRESS}" in plain


def test_exec_passes_output_and_exit_status_through(debian_guests: Guests) -> None:
    g = debian_guests
    r = g.cli("exec", "a", "--", "uname", "-r")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+-cloud-amd64\n", r.stdout), r.stdout
    assert r.stderr == ""
    r = g.cli("exec", "a", "--", "hostname")
    assert r.stdout == "a\n" == f"{g.guest('a')['hostname']}\n"
    r = g.cli("exec", "a", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    # --stdin: what `exec` reads is the command's input; without it nothing is read.
    r = g.cli("exec", "a", "--stdin", "--", "tr", "a-z", "A-Z", stdin="from stdin\n")
    assert (r.returncode, r.stdout) == (0, "FROM STDIN\n"), r.stderr
    r = g.cli("exec", "a", "--", "cat", stdin="never read\n")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = g.cli("exec", "a", "--", "no-such-program")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("error: cannot run 'no-such-program' in 'a': ")
    assert "No such file or directory" in r.stderr and r.stderr.count("\n") == 1


def test_an_agent_stopped_in_the_guest_is_not_connected_until_it_is_back(
    debian_guests: Guests,
) -> None:
    g = debian_guests
    # Stopped by a transient unit a second later, outside the agent's own process tree, so this
    # exec gets its answer first; started again a few seconds after that, so `a` ends as it began.
    r = g.cli(
        "exec",
        "a",
        "--",
        "systemd-run",
        "--on-active=1",
        "/bin/sh",
        "-c",
        "systemctl stop qemu-guest-agent; sleep 8; systemctl start qemu-guest-agent",
    )
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not g.reported("a")["agent"], 60, "the agent to disconnect", step=0.2)
    assert g.guest("a") == {"agent": False, "ips": [], "hostname": None, "os": None}
    down = g.cli("exec", "a", "--", "true")
    assert down.returncode == 1
    assert down.stderr == (
        "error: the guest agent of 'a' is not connected "
        "(is qemu-guest-agent installed and running?)\n"
    )
    wait_for(lambda: g.reported("a")["agent"], 120, "the agent to come back", step=0.2)
    wait_for(lambda: port_events(g)[-3:] == [True, False, True], 10, "the port events")
    again = g.cli("exec", "a", "--", "echo", "back")
    assert (again.returncode, again.stdout) == (0, "back\n")
