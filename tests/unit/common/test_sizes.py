"""One size grammar for memory and disks; a bare number keeps each field's meaning (MiB for memory,
bytes for a disk, as qemu-img takes it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from maqet_tui.common.errors import ConfigError
from maqet_tui.common.sizes import disk_bytes, memory_mib
from maqet_tui.core import peer_yaml
from maqet_tui.core.config import VMConfig

G = 1 << 30


@pytest.mark.parametrize(
    ("text", "mib", "size"),
    [
        ("512", 512, 512),
        (512, 512, 512),
        ("512M", 512, 512 << 20),
        ("512m", 512, 512 << 20),
        ("512MB", 512, 512 << 20),
        ("512 MiB", 512, 512 << 20),
        ("1G", 1024, G),
        ("1gib", 1024, G),
        (" 1.5G ", 1536, G + G // 2),
        ("2048K", 2, 2 << 20),
        ("1T", 1 << 20, 1 << 40),
        ("0.5k", None, 512),
        ("0", 0, None),  # memory 0 is refused by the config's range; a disk of 0 right here
    ],
)
def test_good_sizes(text: object, mib: int | None, size: int | None) -> None:
    if mib is not None:
        assert memory_mib(text) == mib
    if size is not None:
        assert disk_bytes(text) == size


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is not a size"),
        ("lots", "is not a size"),
        ("1X", "is not a size"),
        ("1GG", "is not a size"),
        ("-5", "is not a size"),
        ("1.5.0G", "is not a size"),
        (".5G", "is not a size"),
        ("1e9", "is not a size"),
        ("512B", "is not a size"),
        (True, "is not a size"),
        (1.5, "is not a size"),
        (None, "is not a size"),
        ("9" * 19, "is not a size"),
        ("1000K", "is not a whole number of MiB"),
        ("1.5", "is not a whole number of MiB"),
        ("x" * 100_000, "... (100000 characters)"),
    ],
)
def test_bad_memory_is_one_line_naming_the_field(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        memory_mib(value, "memory")
    text = str(err.value)
    assert text.startswith("memory: ") and message in text and len(text) < 200
    assert err.value.field == "memory"


@pytest.mark.parametrize("value", ["1.5", "0.3K", -1, "lots", "1 G B", "0", 0, "0G"])
def test_bad_disk_size(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^storage\[0\]\.size: ") as err:
        disk_bytes(value, "storage[0].size")
    assert err.value.field == "storage"


def test_every_memory_input_takes_a_unit() -> None:
    assert VMConfig.from_dict({"memory": "1G"}).memory == 1024
    assert VMConfig.from_dict({"memory": "64"}).memory == 64
    assert peer_yaml.to_config({"memory": "1.5G"})[1]["memory"] == 1536
    assert peer_yaml.to_config({"arguments": [{"m": "2048K"}]})[1]["memory"] == 2
    with pytest.raises(ConfigError, match=r"^memory: 8 is out of range"):
        VMConfig.from_dict({"memory": "8M"})


def test_a_new_disk_size_is_checked_where_it_is_read() -> None:
    storage = [{"name": "d", "type": "qcow2", "file": "/nonexistent/d.qcow2", "size": "20Q"}]
    with pytest.raises(ConfigError, match=r"^storage\[0\] \(name: d\)\.size: '20Q' is not a size"):
        peer_yaml.to_config({"storage": storage})


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"memory": "lots"}, "memory"),
        ({"cpus": 0}, "cpus"),
        ({"accel": "xen"}, "accel"),
        ({"disks": [{"file": "/etc/hostname", "format": "vmdk"}]}, "disks"),
        ({"disks": ["/no/such/disk.img"]}, "disks"),
        ({"qemu_args": ["-daemonize"]}, "qemu_args"),
        ({"kernel": "/no/such/vmlinuz"}, "kernel"),
        ({"append": "console=ttyS0"}, "append"),
        ({"shares": [{"path": "/tmp", "mount_tag": "a b"}]}, "shares"),
        ({"nonsense": 1}, None),
    ],
)
def test_a_config_error_carries_its_field(config: dict[str, object], field: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        VMConfig.from_dict(config)
    assert err.value.field == field


def test_validation_does_not_import_what_runs_qemu_img() -> None:
    code = "import sys, maqet_tui.core.config; print('maqet_tui.core.disks' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
