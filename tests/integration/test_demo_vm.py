"""The demo VM's definition: a qcow2 disk so snapshots work out of the box, also for a demo made
before demos had one. (Its boot is in test_guest.)"""

from __future__ import annotations

from pathlib import Path

from maqet_tui.core.demo import cache_dir, demo_config, ensure_demo
from maqet_tui.core.guest_image import ensure_guest
from maqet_tui.core.manager import Manager
from maqet_tui.core.snapshots import list_snapshots, snapshot


def test_demo_can_be_snapshotted(manager: Manager) -> None:
    vm, created = ensure_demo(manager)
    assert created
    [disk] = vm["config"]["disks"]
    assert disk["format"] == "qcow2" and Path(disk["file"]).is_file()
    assert list_snapshots(manager, "demo") == []
    snapshot(manager, "demo", "create", "first")
    assert [s["tag"] for s in list_snapshots(manager, "demo")] == ["first"]


def test_an_older_diskless_demo_gets_its_disk(manager: Manager) -> None:
    old = manager.add("demo", demo_config(ensure_guest(cache_dir(manager))))
    assert not old["config"]["disks"]
    vm, created = ensure_demo(manager)
    assert not created and vm["id"] == old["id"]
    [disk] = vm["config"]["disks"]
    assert Path(disk["file"]).parent == manager.paths.vm_dir(vm["id"])
    again, _ = ensure_demo(manager)  # idempotent: the same disk, no second one
    assert again["config"]["disks"] == [disk]
