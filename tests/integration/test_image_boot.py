"""A VM made from the built image boots under TCG to a login prompt on its serial console, with
no failed unit, DHCP on its NIC from an isolated user-mode network (restrict=on), and nothing
that calls out started. Checked on VM `a` of the session's Debian pair (tests/guests.py), read
only; that its ACPI power-off completes and that the image's disk is never written is checked on
`b` at the end of test_image_ssh.py, the one place allowed to stop it.
"""

from __future__ import annotations

import re

import pytest

from tests.guests import Guests
from tests.helpers import wait_for

pytestmark = [pytest.mark.guest, pytest.mark.timeout(900)]  # the first test may wait for the boot


def test_image_boots_to_login_with_dhcp_and_nothing_failed(debian_guests: Guests) -> None:
    g = debian_guests
    # The seed named the guest after the VM before the getty started.
    wait_for(lambda: "a login:" in g.serial("a"), 120, "the login prompt", step=0.5)
    # cloud-init's table of interfaces: q35's NIC is enp0s*, and systemd-networkd (matching en*)
    # got it an address from QEMU's DHCP.
    wait_for(
        lambda: re.search(r"\| enp0s\w+ \| True \| +10\.0\.2\.15 ", g.serial("a")),
        60,
        "the NIC with its DHCP address",
        step=0.5,
    )
    text = g.serial("a")
    assert "Debian GNU/Linux 12 a ttyS0" in text
    for caller in ("apt-daily", "timesyncd", "Network Time"):  # masked or absent: no callouts
        assert caller not in text, caller
    warnings = [ln for ln in text.splitlines() if "WARNING" in ln]
    assert "FAILED" not in text and not warnings, text[-3000:]
