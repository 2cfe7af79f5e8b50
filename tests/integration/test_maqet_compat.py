"""Definitions in the forms the peer tool (MAQET) documents: each is imported and started, or
refused at `add` with a one-line reason naming the entry as the user's file spells it."""

from __future__ import annotations

from pathlib import Path

import pytest

from maqet_tui.common.errors import ConfigError
from maqet_tui.common.procs import cmdline
from maqet_tui.core.definitions import add_from_files
from maqet_tui.core.manager import Manager

HEAD = "name: m\nbinary: qemu-system-x86_64\nmemory: 64M\n"


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
