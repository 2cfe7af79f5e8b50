"""The built Debian image (tests/images.py builds it once per session into the shared cache):
a second build is a cache hit that touches nothing, its metadata says how to boot it, its files
are private, and it is not rebuilt under a VM whose disk it backs."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from maqet_tui.core.image_recipe import DEBIAN_12, recipe_hash
from maqet_tui.core.images import Image
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli

pytestmark = pytest.mark.timeout(900)  # the first build of a fresh machine


def test_a_second_build_is_a_cache_hit(env: Env, debian_image: Image) -> None:
    before = debian_image.disk.stat()
    done = run_cli(env, "image", "build", "debian-12")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{debian_image.disk}\n"
    assert "debian-12 is up to date (built " in done.stderr and "--force rebuilds" in done.stderr
    after = debian_image.disk.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_ls_json_describes_how_to_boot_it(env: Env, debian_image: Image) -> None:
    done = run_cli(env, "image", "ls", "--json")
    assert done.returncode == 0, done.stderr
    entry = next(i for i in json.loads(done.stdout) if i["name"] == "debian-12")
    d = debian_image.disk.parent
    assert entry == {
        "name": "debian-12",
        "format": "qcow2",
        "virtual_size": 4 << 30,
        "path": str(d / "disk.qcow2"),
        "built_at": debian_image.built_at,
        "source": "build:debian-12",
        "user": "debian",
        "kernel": str(d / "vmlinuz"),
        "initrd": str(d / "initrd.img"),
        "append": "root=/dev/vda rw console=ttyS0",
    }
    meta = json.loads((d / "image.json").read_text())
    assert meta["recipe"] == recipe_hash(DEBIAN_12) and meta["path"] == "disk.qcow2"
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "-U", "--output=json", entry["path"]],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert info["format"] == "qcow2" and info["virtual-size"] == entry["virtual_size"]
    assert "backing-filename" not in info
    assert Path(entry["kernel"]).read_bytes()[0x202:0x206] == b"HdrS"  # a bzImage


def test_the_image_is_private_and_no_build_leftovers(debian_image: Image) -> None:
    d = debian_image.disk.parent
    for p in [d, *d.iterdir()]:
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
    assert sorted(p.name for p in d.iterdir()) == [
        "disk.qcow2", "image.json", "initrd.img", "vmlinuz",
    ]  # fmt: skip
    assert not [p for p in d.parent.iterdir() if p.name.startswith((".build-", ".old-"))]


def test_no_rebuild_under_a_vm_backed_by_it(
    env: Env, manager: Manager, debian_image: Image, tmp_path: Path
) -> None:
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(debian_image.disk),
         str(overlay)],
        check=True,
    )  # fmt: skip
    manager.add("uses-it", {"memory": 64, "accel": "tcg", "disks": [str(overlay)]})
    before = debian_image.disk.stat()
    done = run_cli(env, "image", "build", "debian-12", "--force")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot rebuild image 'debian-12': used by VM uses-it ")
    assert len(done.stderr.splitlines()) == 1
    assert debian_image.disk.stat().st_ino == before.st_ino
