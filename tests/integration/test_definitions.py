"""Peer-format YAML definitions, qcow2 disks, snapshots and screendumps, on real QEMU/qemu-img."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.errors import ConfigError, MaqetError, StateError
from maqet_tui.common.procs import cmdline
from maqet_tui.core.definitions import add_from_files, export
from maqet_tui.core.disks import create_qcow2, image_info
from maqet_tui.core.manager import Manager
from maqet_tui.core.snapshots import list_snapshots, screendump, snapshot
from tests.helpers import Env, run_cli


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def qemu_argv(manager: Manager, name: str) -> list[str]:
    return cmdline(manager.get(name)["qemu_pid"])


def test_yaml_forms_reach_qemus_argv(manager: Manager, tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    raw = tmp_path / "images" / "data.img"
    raw.write_bytes(b"\0" * 1024 * 1024)
    share = tmp_path / "share"
    share.mkdir()
    f = write(
        tmp_path / "vm.yaml",
        """
name: web-1
binary: qemu-system-x86_64
memory: 96M
cpu: 2
arguments:
  - machine: q35
  - accel: tcg
  - no-reboot
  - rtc: {base: utc, clock: host}
  - device: virtio-rng-pci
storage:
  - {name: boot, type: qcow2, size: 64M}
  - {name: data, type: raw, file: images/data.img, interface: virtio}
  - {name: host, type: virtfs, path: share, mount_tag: hostshare, readonly: true}
""",
    )
    vm = add_from_files(manager, [f])
    assert vm["name"] == "web-1" and vm["config"]["memory"] == 96 and vm["config"]["cpus"] == 2
    boot = Path(manager.paths.vm_dir(vm["id"])) / "boot.qcow2"
    assert image_info(boot)["format"] == "qcow2"
    manager.start("web-1")
    argv = qemu_argv(manager, "web-1")
    assert argv[argv.index("-m") + 1] == "96" and argv[argv.index("-smp") + 1] == "2"
    assert "-no-reboot" in argv
    assert argv[argv.index("-rtc") + 1] == "base=utc,clock=host"
    assert argv[argv.index("-device") + 1] == "virtio-rng-pci"
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert drives == [f"file={boot},format=qcow2,if=virtio", f"file={raw},format=raw,if=virtio"]
    virtfs = argv[argv.index("-virtfs") + 1]
    assert f"path={share}," in virtfs and "mount_tag=hostshare" in virtfs
    assert virtfs.endswith("readonly=on")


def test_merge_rules(manager: Manager, tmp_path: Path) -> None:
    a = write(
        tmp_path / "a.yaml",
        """
name: base
memory: 64M
arguments: [{machine: q35}, {accel: tcg}, {device: virtio-rng-pci}, {smp: 1}]
storage: [{name: d1, type: qcow2, size: 16M}]
""",
    )
    (tmp_path / "over").mkdir()
    b = write(
        tmp_path / "over" / "b.yaml",
        """
memory: 128M
arguments: [{smp: 2}, {boot: menu=on}]
storage: [{name: d2, type: qcow2, size: 16M, file: d2.qcow2}]
""",
    )
    vm = add_from_files(manager, [a, b], name="merged")
    cfg = vm["config"]
    assert cfg["memory"] == 128 and cfg["cpus"] == 2 and cfg["accel"] == "tcg"
    assert cfg["qemu_args"] == ["-device", "virtio-rng-pci", "-boot", "menu=on"]
    assert [Path(d["file"]).name for d in cfg["disks"]] == ["d1.qcow2", "d2.qcow2"]
    # b's relative path resolves against b's own directory
    assert cfg["disks"][1]["file"] == str(tmp_path / "over" / "d2.qcow2")


def test_round_trip_is_lossless(manager: Manager, tmp_path: Path, env: Env) -> None:
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"k")
    disk = tmp_path / "d.qcow2"
    create_qcow2(disk, "16M")
    original = manager.add(
        "rt",
        {
            "memory": 80,
            "cpus": 3,
            "accel": "tcg",
            "kernel": str(kernel),
            "append": "quiet a=b",
            "disks": [{"file": str(disk), "interface": "ide"}],
            "shares": [{"path": str(tmp_path), "mount_tag": "t"}],
            "qemu_args": ["-device", "virtio-rng-pci", "-no-reboot", "-vga", "std"],
            "agent": True,
        },
    )
    text = export(manager, "rt")
    assert "agent: true" in text
    out = write(tmp_path / "rt.yaml", text)
    again = add_from_files(manager, [out], name="rt2")
    assert again["config"] == original["config"]
    cli = subprocess.run(
        [sys.executable, "-m", "maqet_tui", "export", "rt"],
        text=True,
        capture_output=True,
        env={**os.environ, "MAQET_TUI_HOME": str(env.home)},
    )
    assert cli.returncode == 0 and cli.stdout == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("log_file: x.log\n", "unsupported key: log_file"),
        ("display: gtk\n", "display: 'gtk' is not supported"),
        ("storage: [{name: s, type: nbd}]\n", "storage[0] (name: s).type: 'nbd'"),
        (
            "storage: [{name: s, type: qcow2, size: 1G, cache: none}]\n",
            "unsupported key for qcow2: cache",
        ),
        ("storage: [{type: raw, file: x}]\n", "every entry needs a name"),
        ("storage: [{name: s, type: qcow2}]\n", "needs a size"),
        ("arguments: [{qmp: 'tcp::4444'}]\n", "qemu_args: '-qmp' is managed"),
        ("arguments: [{readconfig: /etc/q.cfg}]\n", "qemu_args: '-readconfig' is managed"),
        ("arguments: [{machine: 'q35,usb=on'}]\n", "machine option 'usb=on'"),
        ("arguments: [{smp: 'cores=2,bogus=1'}]\n", "smp: 'bogus=1' is not a count"),
        ("memory: lots\n", "memory: 'lots'"),
        ("name: [x]\n", "name: expected a string"),
        ("a: [1\n", "not valid YAML"),
    ],
)
def test_unsupported_is_refused_by_name(
    manager: Manager, tmp_path: Path, text: str, message: str
) -> None:
    f = write(tmp_path / "bad.yaml", "name: bad\n" + text if not text.startswith("name") else text)
    with pytest.raises(ConfigError) as err:
        add_from_files(manager, [f], name=None if text.startswith("name") else "bad")
    assert message in str(err.value)
    assert manager.list() == [] and not any(manager.paths.vms.iterdir())


def test_failed_disk_creation_leaves_nothing(manager: Manager, tmp_path: Path) -> None:
    f = write(
        tmp_path / "v.yaml",
        "name: v\nstorage: [{name: a, type: qcow2, size: 16M},"
        " {name: b, type: qcow2, size: 99999999T}]\n",
    )
    with pytest.raises(MaqetError, match="qemu-img create failed"):
        add_from_files(manager, [f])
    assert manager.list() == []
    assert not any(p.is_file() for p in manager.paths.vms.rglob("*"))


def test_rm_keeps_disks_unless_asked(manager: Manager, env: Env) -> None:
    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maqet_tui", *a],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "MAQET_TUI_HOME": str(env.home)},
        )

    assert run("add", "k", "--accel", "tcg", "--memory", "64", "--new-disk", "32M").returncode == 0
    vm = manager.get("k")
    disk = Path(vm["config"]["disks"][0]["file"])
    assert disk.is_file() and disk.parent == manager.paths.vm_dir(vm["id"])
    manager.start("k")
    assert "stop it first" in run("rm", "k").stderr  # a running VM's disks are never touched
    manager.stop("k", force=True)
    out = run("rm", "k")
    assert f"kept its disks in {disk.parent}" in out.stdout and disk.is_file()
    assert run("add", "k2", "--accel", "tcg", "--new-disk", "16M").returncode == 0
    disk2 = Path(manager.get("k2")["config"]["disks"][0]["file"])
    assert run("rm", "k2", "--delete-disks").returncode == 0 and not disk2.exists()


def test_an_add_whose_disk_cannot_be_made_leaves_nothing(manager: Manager, env: Env) -> None:
    """qemu-img refuses the size: no row, no disk, and no empty directory no command could
    remove (its VM id belongs to nobody)."""
    out = run_cli(env, "add", "v5", "--accel", "tcg", "--new-disk", "99999T")
    assert out.returncode == 1 and out.stderr.startswith("error: qemu-img create failed")
    assert len(out.stderr.strip().splitlines()) == 1
    assert manager.list() == []
    assert not manager.paths.vms.exists() or list(manager.paths.vms.iterdir()) == []


def test_a_new_disk_of_zero_bytes_is_refused(manager: Manager, env: Env) -> None:
    out = run_cli(env, "add", "v4", "--accel", "tcg", "--new-disk", "0")
    assert (out.returncode, out.stderr) == (
        1,
        "error: size: a disk of 0 bytes holds nothing; give a size like 512M or 20G\n",
    )
    assert manager.list() == []


def snap_tags(manager: Manager, name: str) -> list[str]:
    return [s["tag"] for s in list_snapshots(manager, name)]


def test_snapshots_online_and_offline(manager: Manager, env: Env) -> None:
    from maqet_tui.core.definitions import add_with_disks
    from maqet_tui.core.peer_yaml import NewDisk

    add_with_disks(
        manager,
        "s",
        {"memory": 64, "accel": "tcg"},
        [NewDisk("d0", "32M", None, None, "virtio", "disk")],
    )
    manager.start("s")
    snapshot(manager, "s", "create", "one")
    snapshot(manager, "s", "create", "two")
    assert snap_tags(manager, "s") == ["one", "two"]
    assert list_snapshots(manager, "s")[0]["vm_state_size"] > 0  # RAM saved too (online)
    snapshot(manager, "s", "revert", "one")
    assert manager.qmp("s", "query-status")["status"] in ("running", "paused")
    snapshot(manager, "s", "delete", "two")
    assert snap_tags(manager, "s") == ["one"]
    with pytest.raises(StateError, match="no snapshot 'nope'"):
        snapshot(manager, "s", "revert", "nope")
    with pytest.raises(StateError, match="already exists"):
        snapshot(manager, "s", "create", "one")
    with pytest.raises(StateError, match="stop it before editing"):
        manager.set_config("s", {"memory": 128})
    manager.stop("s", force=True)
    snapshot(manager, "s", "create", "cold")
    assert snap_tags(manager, "s") == ["one", "cold"]
    snapshot(manager, "s", "revert", "cold")
    snapshot(manager, "s", "delete", "one")
    out = subprocess.run(
        [sys.executable, "-m", "maqet_tui", "snapshot", "s", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAQET_TUI_HOME": str(env.home)},
    )
    assert [s["tag"] for s in json.loads(out.stdout)] == ["cold"]


def test_snapshots_refused_without_qcow2(manager: Manager, tiny_vm: Any) -> None:
    tiny_vm("plain")
    with pytest.raises(StateError, match="no qcow2 disk"):
        snapshot(manager, "plain", "create", "x")
    with pytest.raises(ConfigError, match="invalid snapshot tag"):
        snapshot(manager, "plain", "create", "bad tag;")


def test_screendump(manager: Manager, tiny_vm: Any, tmp_path: Path) -> None:
    tiny_vm("gfx", qemu_args=["-vga", "std"])
    tiny_vm("headless")
    manager.start("gfx")
    manager.start("headless")
    png = screendump(manager, "gfx", tmp_path / "shot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(StateError, match="no display device"):
        screendump(manager, "headless", tmp_path / "none.png")


def test_disk_only_snapshot_is_not_reverted_live(manager: Manager) -> None:
    from maqet_tui.core.definitions import add_with_disks
    from maqet_tui.core.peer_yaml import NewDisk

    add_with_disks(
        manager,
        "d",
        {"memory": 64, "accel": "tcg"},
        [NewDisk("d0", "32M", None, None, "virtio", "disk")],
    )
    snapshot(manager, "d", "create", "cold")  # stopped: disks only
    manager.start("d")
    with pytest.raises(StateError, match="holds disks only"):
        snapshot(manager, "d", "revert", "cold")
    assert manager.qmp("d", "query-status")["status"] == "running"  # untouched, not paused


def test_failed_live_snapshot_reports_qemus_error(manager: Manager, tmp_path: Path) -> None:
    """A writable disk that cannot hold a snapshot (raw, given through qemu_args) fails the save
    job; QEMU's own error is reported and the job is not left behind."""
    from maqet_tui.core.definitions import add_with_disks
    from maqet_tui.core.peer_yaml import NewDisk

    raw = tmp_path / "scratch.raw"
    raw.write_bytes(b"\0" * (1 << 20))
    add_with_disks(
        manager,
        "mixed",
        {
            "memory": 64,
            "accel": "tcg",
            "qemu_args": ["-drive", f"file={raw},format=raw,if=virtio"],
        },
        [NewDisk("d0", "32M", None, None, "virtio", "disk")],
    )
    manager.start("mixed")
    with pytest.raises(MaqetError) as info:
        snapshot(manager, "mixed", "create", "x")
    assert str(info.value).startswith("cannot create snapshot 'x' of 'mixed': Device ")
    assert "does not support snapshots" in str(info.value)
    assert manager.qmp("mixed", "query-jobs") == []
    assert snap_tags(manager, "mixed") == []
    assert manager.qmp("mixed", "query-status")["status"] == "running"
