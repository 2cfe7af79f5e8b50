"""Definitions in the forms the peer tool (MAQET) documents: each is imported and started, or
refused at `add` with a one-line reason naming the entry as the user's file spells it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from maqet_tui.common.errors import ConfigError
from maqet_tui.common.procs import cmdline
from maqet_tui.core.definitions import add_from_files, export
from maqet_tui.core.disks import image_info
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli

HEAD = "name: m\nbinary: qemu-system-x86_64\nmemory: 64M\n"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="mq", dir="/tmp"))
    yield d
    shutil.rmtree(d)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def refused(manager: Manager, path: Path, text: str) -> str:
    f = write(path / "vm.yaml", HEAD + text)
    with pytest.raises(ConfigError) as err:
        add_from_files(manager, [f])
    assert manager.list() == [] and not any(manager.paths.vms.iterdir())
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('display: "gtk"\n', "display: 'gtk'"),
        ('arguments:\n  - display: "gtk"\n', "arguments: display 'gtk'"),
        ("arguments:\n  - display: {sdl: null}\n", "arguments: display"),
        ("arguments:\n  - display: sdl,gl=on\n", "arguments: display 'sdl,gl=on'"),
    ],
)
def test_display_is_refused_alike_in_both_spellings(
    manager: Manager, tmp_path: Path, text: str, where: str
) -> None:
    message = refused(manager, tmp_path, text)
    assert message.startswith(where) and "VMs run headless" in message and "vnc" in message


@pytest.mark.parametrize("args", [["-display", "gtk"], ["--display=sdl"], ["-sdl"], ["-curses"]])
def test_display_in_qemu_args_is_refused(manager: Manager, args: list[str]) -> None:
    with pytest.raises(ConfigError, match="VMs run headless"):
        manager.add("q", {"qemu_args": args})
    assert manager.list() == []


def test_display_none_in_arguments_starts_headless(manager: Manager, tmp_path: Path) -> None:
    f = write(
        tmp_path / "vm.yaml",
        HEAD + "arguments:\n  - machine: q35\n  - accel: tcg\n  - display: none\n  - nographic\n",
    )
    add_from_files(manager, [f])
    manager.start("m")
    argv = cmdline(manager.get("m")["qemu_pid"])
    assert argv.count("-display") == 1 and argv[argv.index("-display") + 1] == "none"
    manager.stop("m", force=True)


@pytest.mark.parametrize(
    ("smp", "cpus"),
    [("8,cores=4,threads=2,sockets=1", 8), ("cores=2,threads=2", 4), ("cpus=2,maxcpus=4", 2)],
)
def test_smp_topology_reaches_qemu(manager: Manager, tmp_path: Path, smp: str, cpus: int) -> None:
    f = write(
        tmp_path / "vm.yaml",
        HEAD + f'arguments:\n  - machine: q35\n  - accel: tcg\n  - smp: "{smp}"\n',
    )
    vm = add_from_files(manager, [f])
    assert vm["config"]["cpus"] == cpus
    manager.start("m")
    argv = cmdline(manager.get("m")["qemu_pid"])
    assert smp in argv
    vcpus = manager.qmp("m", "query-cpus-fast")
    assert len(vcpus) == cpus
    manager.stop("m", force=True)


def test_documented_storage_imports_and_starts(manager: Manager, env: Env, tmp_path: Path) -> None:
    """Each storage type as MAQET's storage guide writes it, merged from two files, started."""
    (tmp_path / "disks").mkdir()
    iso = tmp_path / "disks" / "install.iso"
    iso.write_bytes(b"\0" * 2048 * 16)
    existing = tmp_path / "disks" / "existing.img"
    existing.write_bytes(b"\0" * 1024 * 1024)
    (tmp_path / "shared").mkdir()
    base = write(
        tmp_path / "base.yaml",
        HEAD
        + """arguments:
  - machine: q35
  - accel: tcg
  - smp: 2
storage:
  - name: hdd
    type: qcow2
    size: 16M
    interface: scsi
  - name: cdrom
    type: raw
    file: disks/install.iso
    interface: ide
    media: cdrom
""",
    )
    more = write(
        tmp_path / "more.yaml",
        """arguments:
  - smp: 1
storage:
  - {name: scratch, type: raw, file: disks/scratch.img, size: 8M}
  - {name: data, type: raw, file: disks/existing.img, size: 1M}
  - {name: overlay, type: qcow2, file: disks/overlay.qcow2, size: 16M, interface: sata}
  - {name: shared_folder, type: virtfs, path: ./shared, mount_tag: hostshare}
""",
    )
    said: list[str] = []
    vm = add_from_files(manager, [base, more], say=said.append)
    scratch = tmp_path / "disks" / "scratch.img"
    overlay = tmp_path / "disks" / "overlay.qcow2"
    hdd = manager.paths.vm_dir(vm["id"]) / "hdd.qcow2"
    assert said == [
        f"created disk {hdd} (qcow2, 16M)",
        f"created disk {scratch} (raw, 8M)",
        f"created disk {overlay} (qcow2, 16M)",
    ]
    assert scratch.stat().st_size == 8 * 1024 * 1024 and image_info(scratch)["format"] == "raw"
    cfg = vm["config"]
    names = [d["name"] for d in cfg["disks"]] + [s["name"] for s in cfg["shares"]]
    assert names == ["hdd", "cdrom", "scratch", "data", "overlay", "shared_folder"]
    assert cfg["cpus"] == 1
    manager.start("m")
    argv = cmdline(manager.get("m")["qemu_pid"])
    assert argv[argv.index("-device") + 1] == "virtio-scsi-pci,id=maqet-scsi"
    assert "scsi-hd,drive=maqet-disk0,bus=maqet-scsi.0" in argv
    assert f"file={iso},format=raw,if=ide,media=cdrom" in argv
    block = manager.qmp("m", "query-block")
    assert len(block) == 5
    manager.stop("m", force=True)
    exported = yaml.safe_load(export(manager, "m"))
    assert [e["name"] for e in exported["storage"]] == names
    shown = run_cli(env, "show", "m")
    assert "'name': 'shared_folder'" in shown.stdout and "'name': 'cdrom'" in shown.stdout


def test_add_says_which_disks_it_created(env: Env, tmp_path: Path) -> None:
    f = write(
        tmp_path / "vm.yaml",
        HEAD + "storage: [{name: scratch, type: raw, file: s.img, size: 1M}]\n",
    )
    out = run_cli(env, "add", "m", "--from", str(f))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"created disk {tmp_path / 's.img'} (raw, 1M)"


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        (
            "  - {name: hdd, type: qcow2, size: 16M}\n"
            "  - {name: cdrom, type: raw, file: nope.iso, media: cdrom}\n",
            "storage[1] (name: cdrom).file: 'TMP/nope.iso' does not exist (give a size",
        ),
        (
            "  - {name: hdd, type: qcow2, size: 16M}\n"
            "  - {name: shared, type: virtfs, path: ./nope, mount_tag: t}\n",
            "storage[1] (name: shared).path: directory 'TMP/nope' does not exist",
        ),
        ("  - {name: d, file: d.img}\n", "storage[0] (name: d).type: missing (one of qcow2"),
        (
            "  - {name: d, type: qcow2, file: gone.qcow2}\n",
            "storage[0] (name: d).file: 'TMP/gone.qcow2' does not exist (give a size",
        ),
        (
            "  - {name: d, type: raw, file: one.img, size: 2M}\n",
            "storage[0] (name: d).size: '2M' is not the size of 'TMP/one.img' (1048576 bytes)",
        ),
        (
            "  - {name: d, type: qcow2, size: 1M}\n  - {name: d, type: qcow2, size: 1M}\n",
            "storage[1] (name: d): another entry has this name",
        ),
        ("  - {name: ../x, type: qcow2, size: 1M}\n", "storage[0].name: '../x' is not a name"),
        (
            "  - {name: d, type: raw, file: one.img, interface: floppy}\n",
            "storage[0] (name: d).interface: 'floppy' is not one of",
        ),
        (
            "  - {name: d, type: qcow2, size: 1M, file: no/such/dir/d.qcow2}\n",
            "storage[0] (name: d).file: directory 'TMP/no/such/dir' does not exist",
        ),
    ],
)
def test_storage_errors_name_the_entry_as_written(
    manager: Manager, short_dir: Path, storage: str, message: str
) -> None:
    tmp_path = short_dir  # messages quote at most 60 characters of a path
    (tmp_path / "one.img").write_bytes(b"\0" * 1024 * 1024)
    got = refused(manager, tmp_path, "storage:\n" + storage)
    assert got.startswith(message.replace("TMP", str(tmp_path))), got
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.img", "vm.yaml"]


def test_a_missing_disk_directory_is_made_only_inside_the_home(
    manager: Manager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    f = write(
        tmp_path / "vm.yaml",
        HEAD + "storage: [{name: d, type: qcow2, size: 1M, file: ~/vms/m/d.qcow2}]\n",
    )
    said: list[str] = []
    add_from_files(manager, [f], say=said.append)
    disk = tmp_path / "home" / "vms" / "m" / "d.qcow2"
    assert said == [f"created disk {disk} (qcow2, 1M)"] and disk.is_file()


DOCUMENTED_SHAPES = {
    # the quick start, headless (its `display: gtk` is refused, see above)
    "quick-start": """arguments:
  - machine: q35
  - accel: tcg
  - display: none
storage:
  - {name: hdd, type: qcow2, size: 16M, interface: virtio}
""",
    # user networking, flat strings and a nested mapping
    "network": """arguments:
  - netdev: "user,id=net0"
  - device: "virtio-net-pci,netdev=net0"
  - netdev: {user: null, id: net1}
  - device: {driver: virtio-net-pci, netdev: net1}
""",
    # the high-performance template: topology, CPU model, flags as strings
    "high-performance": """arguments:
  - smp: "4,cores=2,threads=2,sockets=1"
  - cpu: max
  - no-reboot
  - rtc: {base: utc, clock: host}
  - boot: {order: dc}
storage:
  - {name: os, type: qcow2, size: 16M, interface: sata}
  - {name: data, type: raw, file: data.img, size: 4M, interface: scsi}
""",
}


@pytest.mark.parametrize("shape", sorted(DOCUMENTED_SHAPES))
def test_documented_shapes_import_and_start(manager: Manager, tmp_path: Path, shape: str) -> None:
    f = write(tmp_path / "vm.yaml", HEAD + DOCUMENTED_SHAPES[shape])
    add_from_files(manager, [f])
    vm = manager.start("m")
    assert vm["status"] == "running"
    assert manager.qmp("m", "query-status")["status"] == "running"
    manager.stop("m", force=True)
