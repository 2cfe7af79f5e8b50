"""Hostile sizes: error messages quote a short prefix of a value, never the whole of it, and a YAML
definition cannot expand past a small budget however it uses anchors and aliases."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from maqet_tui.common.errors import ConfigError
from maqet_tui.core import peer_yaml
from maqet_tui.core.config import VMConfig, validate_name
from maqet_tui.core.disk_spec import check_size
from tests.helpers import ALIAS_BOMB

BIG = "x" * (1 << 20)
HOSTILE: dict[str, Callable[[], object]] = {
    "name": lambda: validate_name(BIG),
    "accel": lambda: VMConfig.from_dict({"accel": BIG}),
    "memory": lambda: VMConfig.from_dict({"memory": BIG}),
    "cpus-range": lambda: VMConfig.from_dict({"cpus": 10**4000}),
    "unknown-key": lambda: VMConfig.from_dict({BIG: 1}),
    "disk-file": lambda: VMConfig.from_dict({"disks": [{"file": "/tmp/" + BIG}]}),
    "disk-format": lambda: VMConfig.from_dict(
        {"disks": [{"file": "/etc/hostname", "format": BIG}]}
    ),
    "disk-key": lambda: VMConfig.from_dict({"disks": [{"file": "/etc/hostname", BIG: 1}]}),
    "size": lambda: check_size(BIG),
    "peer-memory": lambda: peer_yaml.to_config({"memory": BIG}),
    "peer-display": lambda: peer_yaml.to_config({"display": BIG}),
    "peer-smp": lambda: peer_yaml.to_config({"arguments": [{"smp": BIG}]}),
    "peer-item": lambda: peer_yaml.to_config({"arguments": [[BIG]]}),
    "peer-machine": lambda: peer_yaml.to_config({"arguments": [{"machine": "q35," + BIG}]}),
    "peer-type": lambda: peer_yaml.to_config({"storage": [{"name": "s", "type": BIG}]}),
    "peer-key": lambda: peer_yaml.to_config({"arguments": [{BIG: {"a": [1]}}]}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_an_error_quotes_only_a_prefix_of_a_huge_value(case: str) -> None:
    with pytest.raises(ConfigError) as err:
        HOSTILE[case]()
    message = str(err.value)
    # bounded: the value is quoted by a prefix; the list of valid keys adds at most ~170
    assert len(message) < 240 and "\n" not in message, message[:300]
    assert "xxxxxxxxxx" in message or "10000" in message  # still says what was wrong


def test_clip_is_bounded_for_any_value() -> None:
    from maqet_tui.common.errors import clip

    assert clip("abc") == "'abc'"
    assert clip(BIG) == f"'{'x' * 60}'... ({len(BIG)} characters)"
    nested: list[object] = ["lol"] * 9
    for _ in range(8):
        nested = [nested] * 9
    assert len(clip(nested)) <= 63
    assert clip(10**5000) == "<int>"


def write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "vm.yaml"
    f.write_text(text)
    return f


def test_alias_bomb_is_refused_before_it_is_built(tmp_path: Path) -> None:
    # 9**9 (387 million) strings from under 450 bytes: it used to take gigabytes, then MemoryError.
    assert len(ALIAS_BOMB) < 450
    f = write(tmp_path, ALIAS_BOMB)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as err:
            name, cfg, _ = peer_yaml.to_config(peer_yaml.load([f]))
            VMConfig.from_dict(cfg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value) == (
        f"{f}: expands to more than 10000 values or 1048576 characters (aliases counted at each use)"
    )
    assert peak < 5 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    # The same anchors within the budget still load, each alias giving the anchored value.
    f = write(tmp_path, "memory: &m 512M\nname: *m\narguments: [{device: &d rng}, {device: *d}]\n")
    name, cfg, _ = peer_yaml.to_config(peer_yaml.load([f]))
    assert name == "512M" and cfg["memory"] == 512
    assert cfg["qemu_args"] == ["-device", "rng", "-device", "rng"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arguments: &a [*a]\n", "an alias refers to the node that contains it"),
        ("cpu: " + "[" * 1000 + "]" * 1000 + "\n", "nests deeper than 20 levels"),
        ("cpu: " + "9" * 5000 + "\n", "not valid YAML (a number or a date out of range)"),
        ("name: v\n1: x\n", "unsupported key: 1"),
        (
            "storage: [{name: s, type: qcow2, size: 1G, file: [a]}]\n",
            "storage[0] (name: s).file: expected",
        ),
    ],
)
def test_odd_yaml_is_a_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        peer_yaml.to_config(peer_yaml.load([write(tmp_path, text)]))
    assert message in str(err.value) and "\n" not in str(err.value)
