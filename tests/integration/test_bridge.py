"""`--net bridge=BR` on a bridge the test creates (no uplink: nothing leaves this machine) that
qemu-bridge-helper is not permitted to use here (no /etc/qemu/bridge.conf): the start is refused
before QEMU runs, in one line saying what an administrator must allow; and when QEMU meets the
helper's refusal itself (the check bypassed), its words are mapped to the same line."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.errors import StartError
from maqet_tui.core import lifecycle
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating a bridge needs root")


@pytest.fixture
def bridge() -> Iterator[str]:
    name = f"mqtbr{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=True)


@pytest.fixture
def unpermitted(bridge: str) -> str:
    conf = Path("/etc/qemu/bridge.conf")
    text = conf.read_text() if conf.exists() else ""
    if f"allow {bridge}" in text or "allow all" in text:
        pytest.fail(f"{conf} permits {bridge}: this test needs a host where it does not")
    return bridge


def test_an_unpermitted_bridge_is_refused_before_qemu_runs(
    env: Env, tiny_vm: Callable[..., dict[str, Any]], unpermitted: str
) -> None:
    tiny_vm("br", net=f"bridge={unpermitted}")
    done = run_cli(env, "start", "br")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"VM 'br': qemu-bridge-helper may not use bridge {unpermitted}" in done.stderr
    assert f"has no 'allow {unpermitted}'" in done.stderr
    assert "stopped" in run_cli(env, "show", "br").stdout


def test_qemus_own_refusal_is_told_the_same_way(
    manager: Manager,
    tiny_vm: Callable[..., dict[str, Any]],
    unpermitted: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tiny_vm("br", net=f"bridge={unpermitted}")
    monkeypatch.setattr(lifecycle, "check_network", lambda name, cfg: None)
    with pytest.raises(StartError) as err:
        manager.start("br")
    text = str(err.value)
    assert f"VM 'br': qemu-bridge-helper may not use bridge {unpermitted}" in text
    assert "bridge helper failed" in text  # QEMU's own words, kept at the end
    assert manager.get("br")["status"] == "crashed"
