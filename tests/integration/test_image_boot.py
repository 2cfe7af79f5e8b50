"""A VM made from the built image boots under TCG to a login prompt on its serial console, with
no failed unit, DHCP on its NIC from an isolated user-mode network (restrict=on), nothing that
calls out started, and stops by ACPI power-down. Its disk is a qcow2 overlay of the image's
disk, which is never written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from maqet_tui.core.images import Image
from maqet_tui.core.manager import Manager
from tests.helpers import wait_for

pytestmark = pytest.mark.guest
BOOT_DEADLINE = 300.0  # ~40 s on an idle 2-core host under TCG


@pytest.mark.timeout(600)
def test_image_boots_to_login_and_powers_off(
    manager: Manager, debian_image: Image, tmp_path: Path
) -> None:
    assert debian_image.kernel and debian_image.initrd and debian_image.append
    overlay = tmp_path / "root.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(debian_image.disk),
         str(overlay)],
        check=True,
    )  # fmt: skip
    image_before = debian_image.disk.stat().st_mtime_ns
    vm = manager.add(
        "deb",
        {
            "memory": 512,
            "accel": "tcg",
            "kernel": str(debian_image.kernel),
            "initrd": str(debian_image.initrd),
            "append": debian_image.append,
            "disks": [str(overlay)],
            # Networking that reaches nothing beyond QEMU itself: DHCP, no route out.
            "qemu_args": [
                "-netdev",
                "user,id=n0,restrict=on",
                "-device",
                "virtio-net-pci,netdev=n0",
            ],
        },
    )
    manager.start("deb")
    log = manager.paths.serial_log(vm["id"])

    def serial() -> str:
        return log.read_text(errors="replace") if log.exists() else ""

    wait_for(lambda: "debian login:" in serial(), BOOT_DEADLINE, "the login prompt", step=0.5)
    # cloud-init's table of interfaces: q35's NIC is enp0s1, and systemd-networkd (matching en*)
    # got it an address from QEMU's DHCP.
    wait_for(
        lambda: re.search(r"\| enp0s1 \| True \| +10\.0\.2\.15 ", serial()),
        60,
        "enp0s1 with its DHCP address",
        step=0.5,
    )
    text = serial()
    assert "Debian GNU/Linux 12 debian ttyS0" in text
    for caller in ("apt-daily", "timesyncd", "Network Time"):  # masked or absent: no callouts
        assert caller not in text, caller
    # With no seed (no `cidata` volume) cloud-init's last stage says it used its fallback.
    warnings = [
        ln for ln in text.splitlines() if "WARNING" in ln and "fallback datasource" not in ln
    ]
    assert "FAILED" not in text and not warnings, text[-3000:]
    after = manager.stop("deb", timeout=120)
    assert after["status"] == "stopped" and after["last_error"] is None
    shutdowns = [e for e in manager.events("deb") if e["name"] == "SHUTDOWN"]
    assert shutdowns and shutdowns[-1]["data"]["data"]["guest"] is True  # the guest powered off
    assert "reboot: Power down" in serial()
    assert debian_image.disk.stat().st_mtime_ns == image_before
