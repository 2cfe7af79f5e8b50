"""The built guest's own busybox reads the archives we write: ours and the guest's initramfs."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
from pathlib import Path

import pytest

from maqet_tui.core import guest_image as gi
from tests.unit.core.test_guest_image import parse_newc


@pytest.fixture
def busybox(guest: gi.GuestImage, tmp_path: Path) -> Path:
    """The busybox binary out of the guest's initramfs, runnable on the host (it is static)."""
    entries = parse_newc(gzip.decompress(guest.initrd.read_bytes()))
    bb = tmp_path / "busybox"
    bb.write_bytes(next(e["data"] for e in entries if e["name"] == "bin/busybox"))
    bb.chmod(0o755)
    return bb


@pytest.mark.guest
@pytest.mark.timeout(600)  # the first build downloads ~70 MB
def test_real_busybox_cpio_reads_our_archive(
    guest: gi.GuestImage, busybox: Path, tmp_path: Path
) -> None:
    src = [
        gi.CpioEntry("a", stat.S_IFDIR | 0o755),
        gi.CpioEntry("a/f", stat.S_IFREG | 0o644, b"hello\n"),
        gi.CpioEntry("a/l", stat.S_IFLNK | 0o777, b"f"),
    ]
    r = subprocess.run(
        [str(busybox), "cpio", "-t"], input=gi.cpio_newc(src), capture_output=True, check=True
    )
    assert r.stdout.decode().split() == ["a", "a/f", "a/l"]
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run([str(busybox), "cpio", "-i", "-d"], input=gi.cpio_newc(src), cwd=out, check=True)
    assert (out / "a/f").read_bytes() == b"hello\n"
    assert os.readlink(out / "a/l") == "f"
    real = gzip.decompress(guest.initrd.read_bytes())
    listed = subprocess.run(
        [str(busybox), "cpio", "-t"], input=real, capture_output=True, check=True
    )
    assert listed.stdout.decode().split() == [e["name"] for e in parse_newc(real)]
