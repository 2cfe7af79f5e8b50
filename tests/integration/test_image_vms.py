"""`add --image`, `forward` and the new definition keys without booting anything: the overlay
backed by the image (which is never written), the seed, the SSH key, refusals that change
nothing, forwards of a stopped VM, export and re-import, and `rm --delete-disks` keeping the
image. A small blank qcow2 stands in for the image (the booted tests are in
test_image_boot.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core.disks import image_info
from tests.helpers import Env, run_cli

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An image directory `$MAQET_TUI_IMAGES/fake` with a 32 MiB qcow2, and a HOME with no
    ~/.ssh, so the home's own key pair is generated."""
    root = tmp_path / "images"
    (root / "fake").mkdir(parents=True)
    disk = root / "fake" / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "32M"], check=True)
    meta = {
        "name": "fake",
        "format": "qcow2",
        "virtual_size": 32 << 20,
        "path": "disk.qcow2",
        "built_at": 1.0,
        "source": "import:/x",
        "user": "debian",
        "kernel": None,
        "initrd": None,
        "append": None,
    }
    (root / "fake" / "image.json").write_text(json.dumps(meta))
    monkeypatch.setenv("MAQET_TUI_IMAGES", str(root))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    yield disk


def cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, *args)


def show(env: Env, name: str) -> dict[str, Any]:
    done = cli(env, "show", name, "--json")
    assert done.returncode == 0, done.stderr
    vm: dict[str, Any] = json.loads(done.stdout)
    return vm


def test_the_disk_is_an_overlay_of_the_image_and_the_image_is_never_written(
    env: Env, image: Path
) -> None:
    before = image.read_bytes()
    done = cli(env, "add", "a", "--image", "fake", "--disk-size", "64M")
    assert done.returncode == 0, done.stderr
    vm = show(env, "a")
    cfg = vm["config"]
    vm_dir = env.home / "vms" / vm["id"]
    assert cfg["disks"] == [
        {
            "name": "root",
            "file": str(vm_dir / "root.qcow2"),
            "format": "qcow2",
            "interface": "virtio",
            "media": "disk",
        }
    ]
    info = image_info(vm_dir / "root.qcow2")
    assert info["backing-filename"] == str(image) and info["backing-filename-format"] == "qcow2"
    assert info["virtual-size"] == 64 << 20
    assert cfg["image"] == "fake" and cfg["kernel"] is None  # no kernel: firmware boot
    assert cfg["seed"] == str(vm_dir / "seed.img") and Path(cfg["seed"]).is_file()
    # the default network: user-mode NAT with an SSH forward on a port chosen now, recorded
    assert vm["network"]["mode"] == "user" and cfg["net"] == "user"
    (ssh,) = vm["network"]["forwards"]
    assert ssh["proto"] == "tcp" and ssh["guest_port"] == 22 and ssh["host_addr"] == "127.0.0.1"
    assert vm["network"]["mac"] == cfg["mac"] and cfg["mac"].startswith("52:54:00:")
    key = env.home / "ssh" / "id_ed25519.pub"
    assert cfg["ssh_key"] == str(key) and key.stat().st_mode & 0o777 == 0o600
    assert (vm_dir / "root.qcow2").stat().st_mode & 0o777 == 0o600
    # a second VM gets another port, the same generated key, its own MAC
    assert cli(env, "add", "b", "--image", "fake", "--net", "isolated").returncode == 0
    b = show(env, "b")
    b_port = b["network"]["forwards"][0]["host_port"]
    assert b_port != ssh["host_port"]
    assert b["config"]["ssh_key"] == str(key) and b["network"]["mac"] != cfg["mac"]
    # `ls` shows the SSH port (the host side of the forward to guest port 22)
    table = cli(env, "ls").stdout.splitlines()
    assert table[0].split()[8] == "SSH"  # after QEMU PID (two words) and UPTIME
    assert [r.split()[7] for r in table[1:]] == [str(ssh["host_port"]), str(b_port)]
    # rm --delete-disks takes the overlay and the seed, never the image
    assert cli(env, "rm", "a", "--delete-disks").returncode == 0
    assert not vm_dir.exists()
    assert image.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--image", "nope"], "no image named 'nope' (images: fake)"),
        (["--image", "fake", "--disk-size", "1M"], "smaller than image 'fake'"),
        (["--image", "fake", "--ssh-key", "/no/such.pub"], "ssh_key: cannot read"),
        (["--image", "fake", "--forward", "tcp:80"], "PROTO:HOSTPORT:GUESTPORT"),
        (["--image", "fake", "--forward", "tcp:1:22", "--net", "none"], "only user-mode"),
        (["--image", "fake", "--net", "wifi"], "net: 'wifi' is not one of"),
        (["--image", "fake", "--kernel", "/x"], "--image gives the disk and the boot"),
        (["--image", "fake", "--new-disk", "1G"], "--new-disk cannot be combined"),
        (["--ssh-key", "/x.pub"], "--ssh-key need --image"),
        (["--image", "fake", "--user-data", "/no/such"], "user_data: cannot read"),
        (["--image", "fake", "--memory", "lots"], "memory: "),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    env: Env, image: Path, args: list[str], words: str
) -> None:
    done = cli(env, "add", "x", *args)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert words in done.stderr
    assert json.loads(cli(env, "ls", "--json").stdout) == []
    assert not any((env.home / "vms").iterdir())
    assert not (env.home / "ssh").exists()  # no key pair made for an add that failed


def test_the_given_key_and_user_data_are_in_the_seed(env: Env, image: Path, tmp_path: Path) -> None:
    pub = tmp_path / "mine.pub"
    pub.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMine me@here\n")
    ud = tmp_path / "ud.yaml"
    ud.write_text("#cloud-config\npackages: [htop]\n")
    args = ["--ssh-key", str(pub), "--user-data", str(ud), "--net", "none"]
    assert cli(env, "add", "k", "--image", "fake", *args).returncode == 0
    vm = show(env, "k")
    assert vm["network"] == {"mode": "none", "mac": None, "forwards": []}
    assert vm["config"]["ssh_key"] == str(pub) and vm["config"]["user_data"] == str(ud)
    assert not (env.home / "ssh" / "id_ed25519").exists()  # not needed: none generated
    user_data = subprocess.run(
        ["mtype", "-i", vm["config"]["seed"], "::user-data"],
        capture_output=True,
        text=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    ).stdout
    assert "AAAAIMine me@here" in user_data and "packages: [htop]" in user_data


def test_forwards_of_a_stopped_vm_change_the_definition(env: Env, image: Path) -> None:
    assert cli(env, "add", "f", "--image", "fake", "--net", "isolated").returncode == 0
    assert cli(env, "forward", "add", "f", "tcp:18080:80").returncode == 0
    assert cli(env, "forward", "add", "f", "udp:18053:53").returncode == 0
    dup = cli(env, "forward", "add", "f", "tcp:18080:81")
    assert dup.returncode == 1 and "already forwards tcp:18080" in dup.stderr
    listed = json.loads(cli(env, "forward", "ls", "f", "--json").stdout)
    assert [(f["proto"], f["host_port"], f["guest_port"]) for f in listed][1:] == [
        ("tcp", 18080, 80),
        ("udp", 18053, 53),
    ]
    assert cli(env, "forward", "rm", "f", "tcp:18080").returncode == 0
    gone = cli(env, "forward", "rm", "f", "tcp:18080")
    assert gone.returncode == 1 and "has no forward tcp:18080" in gone.stderr
    assert [f["host_port"] for f in show(env, "f")["network"]["forwards"]][1:] == [18053]
    assert "tcp 127.0.0.1:18053" not in cli(env, "forward", "ls", "f").stdout
    assert "udp 127.0.0.1:18053 -> guest port 53" in cli(env, "forward", "ls", "f").stdout


def test_forwards_are_refused_without_a_user_mode_network(env: Env, image: Path) -> None:
    assert cli(env, "add", "n", "--image", "fake", "--net", "none").returncode == 0
    done = cli(env, "forward", "add", "n", "tcp:18081:80")
    assert done.returncode == 1 and "only user-mode networks" in done.stderr
    ssh = cli(env, "ssh", "n")
    assert ssh.returncode == 1 and "not running" in ssh.stderr


def test_a_vm_without_an_image_can_have_a_network_too(env: Env) -> None:
    done = cli(env, "add", "p", "--memory", "64", "--net", "isolated", "--forward", "tcp:1234:80")
    assert done.returncode == 0, done.stderr
    vm = show(env, "p")
    assert vm["network"]["mode"] == "isolated" and len(vm["network"]["forwards"]) == 1
    assert vm["config"]["image"] is None and vm["config"]["seed"] is None


def test_the_new_keys_round_trip_through_export(env: Env, image: Path, tmp_path: Path) -> None:
    assert cli(env, "add", "e", "--image", "fake", "--forward", "udp:5353:53").returncode == 0
    text = cli(env, "export", "e").stdout
    for key in ("image: fake", "net: user", "forwards:", "mac: 52:54:00:", "ssh_key:", "seed:"):
        assert key in text
    (tmp_path / "e.yaml").write_text(text)
    assert cli(env, "add", "e2", "--from", str(tmp_path / "e.yaml")).returncode == 0
    assert show(env, "e2")["config"] == show(env, "e")["config"]
    assert cli(env, "export", "e2").stdout == text.replace("name: e\n", "name: e2\n")
