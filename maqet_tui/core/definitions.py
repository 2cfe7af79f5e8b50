"""Adding VMs from the peer tool's YAML files (creating the qcow2 disks they ask for) and exporting
a VM back to that format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, MaqetError, clip
from maqet_tui.core import peer_yaml
from maqet_tui.core.config import VMConfig, validate_name
from maqet_tui.core.disk_spec import check_size
from maqet_tui.core.disks import create_disk
from maqet_tui.core.manager import Manager


def add_from_files(
    manager: Manager,
    files: list[Path],
    name: str | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Merge `files`, validate everything, then define the VM and create its new disks.

    Disks are created after the row exists (they live in its data directory); if any creation
    fails, the row and every disk made so far are removed again: all or nothing.
    """
    data = peer_yaml.load(files)
    file_name, config, new_disks = peer_yaml.to_config(data)
    return add_with_disks(manager, name or file_name or "", config, new_disks, say)


def add_with_disks(
    manager: Manager,
    name: str,
    config: dict[str, Any],
    new_disks: list[peer_yaml.NewDisk],
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`say` is told of each disk created ("created disk PATH (raw, 1G)")."""
    vm_name = validate_name(name)
    for d in new_disks:
        check_size(d.size)
        if d.backing_file and not Path(d.backing_file).is_file():
            raise ConfigError(
                f"storage {clip(d.name)}: backing file {clip(d.backing_file)} does not exist"
            )
    VMConfig.from_dict(config)  # everything but the disks still to be created
    vm = manager.add(vm_name, config)
    created: list[Path] = []
    try:
        disks = list(vm["config"]["disks"])
        for d in new_disks:
            in_vm_dir = d.file is None
            path = Path(d.file) if d.file else manager.paths.vm_dir(vm["id"]) / f"{d.name}.qcow2"
            backing = Path(d.backing_file) if d.backing_file else None
            make_parents = in_vm_dir or d.make_parents
            create_disk(path, d.size, d.format, backing, make_parents=make_parents)
            created.append(path)
            if say is not None:
                say(f"created disk {path} ({d.format}, {d.size})")
            entry = {
                "name": d.name,
                "file": str(path),
                "format": d.format,
                "interface": d.interface,
                "media": d.media,
            }
            disks.insert(len(disks) if d.slot is None else d.slot, entry)
        return manager.set_config(vm["id"], {"disks": disks})
    except MaqetError:  # the add changes nothing: no row, no disk, no directory of its own
        for path in created:
            path.unlink(missing_ok=True)
        manager.discard_new(vm["id"])
        raise


def export(manager: Manager, ident: str) -> str:
    vm = manager.get(ident)
    return peer_yaml.dump(peer_yaml.from_config(vm["name"], vm["config"]))
