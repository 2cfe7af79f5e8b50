"""What accelerator a VM runs with (not only what it asked for), and why KVM could not be had."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from maqet_tui.common.errors import StartError
from maqet_tui.core import accel
from maqet_tui.core.manager import Manager
from maqet_tui.tui.widgets.overview import render_overview
from tests.helpers import Env, run_cli

TinyVM = Callable[..., dict[str, Any]]


def _overview_text(vm: dict[str, Any]) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render_overview(vm, []))
    return console.export_text()


def test_show_and_overview_say_an_auto_vm_runs_tcg(
    env: Env, manager: Manager, tiny_vm: TinyVM
) -> None:
    # The env fixture sets MAQET_TUI_ACCEL=tcg: `auto` resolves to tcg at start.
    tiny_vm("a", accel="auto")
    stopped = json.loads(run_cli(env, "show", "a", "--json").stdout)
    assert stopped["accel_in_use"] is None and stopped["config"]["accel"] == "auto"
    assert "accel auto ·" in _overview_text(manager.get("a"))
    manager.start("a")
    shown = json.loads(run_cli(env, "show", "a", "--json").stdout)
    assert shown["accel_in_use"] == "tcg" and shown["config"]["accel"] == "auto"
    assert "accel_in_use: tcg" in run_cli(env, "show", "a").stdout.splitlines()
    assert "accel auto (running tcg) ·" in _overview_text(manager.get("a"))


def test_a_recycled_qemu_pid_is_not_read_as_the_vms_accel(
    manager: Manager, tiny_vm: TinyVM
) -> None:
    vm = manager.start(tiny_vm("a")["id"])
    assert accel.accel_in_use(vm) == "tcg"
    assert accel.accel_in_use({**vm, "id": "0badf00d"}) is None  # argv tagged for another VM


def test_a_failed_kvm_start_says_dev_kvm_is_not_accessible(
    manager: Manager, tiny_vm: TinyVM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(accel, "KVM_DEVICE", str(tmp_path / "kvm"))  # no such device: no access
    tiny_vm("k", accel="kvm", qemu_args=["-no-such-option"])
    tiny_vm("t", accel="tcg", qemu_args=["-no-such-option"])
    with pytest.raises(StartError) as kvm_err:
        manager.start("k")
    assert str(kvm_err.value).endswith(
        " (/dev/kvm is not accessible to this user: add it to the kvm group or use --accel tcg)"
    )
    assert "-no-such-option" in str(kvm_err.value)  # QEMU's own words stay first
    with pytest.raises(StartError) as tcg_err:
        manager.start("t")
    assert "kvm group" not in str(tcg_err.value)


def test_the_hint_is_left_out_when_dev_kvm_is_accessible(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    device = tmp_path / "kvm"
    device.write_bytes(b"")
    monkeypatch.setattr(accel, "KVM_DEVICE", str(device))
    assert accel.kvm_hint("kvm", "boom") == "boom"
    device.unlink()
    assert accel.kvm_hint("kvm", "boom") == f"boom {accel.KVM_HINT}"
    assert accel.kvm_hint("tcg", "boom") == "boom"
