"""Definition validation and the argv built from it: pure functions, so checked exhaustively."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.errors import ConfigError
from maqet_tui.core.config import VMConfig, build_argv, resolve_accel, validate_name


@pytest.fixture
def kernel(tmp_path: Path) -> Path:
    k = tmp_path / "vmlinuz"
    k.write_bytes(b"k")
    return k


def test_defaults_round_trip() -> None:
    cfg = VMConfig.from_dict({})
    assert cfg.memory == 256 and cfg.cpus == 1 and cfg.accel == "auto"
    assert VMConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"memory": -1}, "memory"),
        ({"memory": 0}, "memory"),
        ({"memory": "lots"}, "memory"),
        ({"memory": True}, "memory"),
        ({"memory": 10**9}, "memory"),
        ({"cpus": 0}, "cpus"),
        ({"cpus": 100000}, "cpus"),
        ({"cpus": 1.5}, "cpus"),
        ({"accel": "hvf"}, "accel"),
        ({"accel": 3}, "accel"),
        ({"kernel": "/no/such/file"}, "kernel"),
        ({"kernel": "-append"}, "kernel"),
        ({"kernel": 7}, "kernel"),
        ({"initrd": "/etc/hostname"}, "initrd"),
        ({"append": "x"}, "append"),
        ({"disks": "a.img"}, "disks"),
        ({"disks": ["/no/disk.qcow2"]}, "disks[0]"),
        ({"disks": [5]}, "disks[0]"),
        ({"qemu_args": "-device foo"}, "qemu_args"),
        ({"qemu_args": ["-daemonize"]}, "qemu_args"),
        ({"qemu_args": ["-qmp", "tcp::4444"]}, "qemu_args"),
        ({"qemu_args": ["--monitor=stdio"]}, "qemu_args"),
        ({"qemu_args": ["-serial", "stdio"]}, "qemu_args"),
        ({"qemu_args": ["a\0b"]}, "qemu_args[0]"),
        ({"qemu_args": [""]}, "qemu_args[0]"),
        ({"machine": "q35,accel=kvm"}, "machine"),
        ({"binary": "-x"}, "binary"),
        ({"binary": "/nonexistent/qemu"}, "binary"),
        ({"colour": "blue"}, "unknown key"),
        ({"memory": 64, "disk": []}, "unknown key"),
    ],
)
def test_bad_definitions_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        VMConfig.from_dict(data)
    assert field in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "name", ["", "-rf", "../etc", "a/b", "a b", "x" * 64, "name;rm", ".hidden", "ü", None, 3]
)
def test_bad_names(name: Any) -> None:
    with pytest.raises(ConfigError, match="invalid VM name"):
        validate_name(name)


@pytest.mark.parametrize("name", ["Ä", "web-Ä", "ü"])
def test_a_non_ascii_letter_is_refused_saying_ascii(name: str) -> None:
    # Ä is a letter; "use letters" alone would read as a contradiction.
    with pytest.raises(ConfigError, match="use 1-63 ASCII letters, digits"):
        validate_name(name)


@pytest.mark.parametrize("name", ["web-1\n", "a\n"])
def test_a_trailing_newline_is_not_part_of_a_valid_name(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid VM name"):
        validate_name(name)


@pytest.mark.parametrize("name", ["deadbeef", "0123abcd", "12345678", "DEADBEEF", "DeadBeef"])
def test_names_shaped_like_an_id_are_refused(name: str) -> None:
    # A VM named like another VM's id would be taken for it (`rm ID --delete-disks`).
    with pytest.raises(ConfigError, match=f"invalid VM name '{name}': 8 hex digits") as err:
        validate_name(name)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "name", ["a", "web-1", "db_2.test", "X" * 63, "deadbee", "deadbeef0", "deadbeeg", "dead-bee"]
)
def test_good_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["-readconfig", "/etc/q.cfg"], "-readconfig"),
        (["--readconfig", "/etc/q.cfg"], "-readconfig"),
        (["-readconfig=/etc/q.cfg"], "-readconfig"),
        (["--readconfig=/etc/q.cfg"], "-readconfig"),
        (["-writeconfig", "/tmp/out.cfg"], "-writeconfig"),
        (["-set", "chardev.maqet-qmp.path=/tmp/m"], "-set"),
        (["-add-fd", "fd=3,set=2"], "-add-fd"),
        (["-plugin", "file=/tmp/evil.so"], "-plugin"),
        (["-D", "/tmp/qemu.log"], "-D"),
        (["--D=/tmp/qemu.log"], "-D"),
        (["-trace", "enable=*,file=/tmp/trace"], "-trace"),
        (["-qtest", "unix:/tmp/qt"], "-qtest"),
        (["-qtest-log", "/tmp/qt.log"], "-qtest-log"),
        (["-run-with", "chroot=/srv"], "-run-with"),
        (["-device", "virtio-rng-pci", "--chroot", "/srv"], "-chroot"),
    ],
)
def test_reserved_options_are_refused_in_every_spelling(args: list[str], option: str) -> None:
    with pytest.raises(ConfigError) as err:
        VMConfig.from_dict({"qemu_args": args})
    message = str(err.value)
    assert message.startswith(f"qemu_args: '{option}'") and "is managed by maqet-tui" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "args",
    [
        ["-parallel", "mon:stdio"],
        ["-virtioconsole", "mon:unix:/tmp/hmp,server=on,wait=off"],
        ["--debugcon=mon:stdio"],
    ],
)
def test_a_multiplexed_monitor_is_refused(args: list[str]) -> None:
    # A legacy chardev spec `mon:...` adds a human monitor beside the runner's: a second monitor.
    with pytest.raises(ConfigError, match="would add a monitor"):
        VMConfig.from_dict({"qemu_args": args})


def test_debug_logging_and_sandbox_stay_allowed_but_not_a_log_file() -> None:
    allowed = ["-d", "guest_errors,unimp", "-sandbox", "on", "-device", "virtio-rng-pci"]
    assert VMConfig.from_dict({"qemu_args": allowed}).qemu_args == allowed
    with pytest.raises(ConfigError, match="'-D' is managed"):
        VMConfig.from_dict({"qemu_args": [*allowed, "-D", "/tmp/qemu.log"]})


def test_relative_paths_resolve_against_base(tmp_path: Path, kernel: Path) -> None:
    cfg = VMConfig.from_dict({"kernel": "vmlinuz"}, base=tmp_path)
    assert cfg.kernel == str(kernel)


def test_missing_files_allowed_when_not_checking() -> None:
    cfg = VMConfig.from_dict({"kernel": "/gone/vmlinuz"}, check_files=False)
    assert cfg.kernel == "/gone/vmlinuz"


def test_argv_is_a_list_with_fds_and_identity(kernel: Path) -> None:
    cfg = VMConfig.from_dict(
        {
            "memory": 128,
            "cpus": 2,
            "accel": "tcg",
            "kernel": str(kernel),
            "append": "console=ttyS0 quiet; rm -rf /",
            "qemu_args": ["-device", "virtio-rng-pci"],
        }
    )
    argv = build_argv("abcd1234", "web-1", cfg, 5, 6)
    assert argv[0] == "qemu-system-x86_64"
    assert argv[argv.index("-name") + 1] == "web-1,process=maqet-abcd1234"
    assert argv[argv.index("-m") + 1] == "128" and argv[argv.index("-smp") + 1] == "2"
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert "socket,id=maqet-qmp,fd=5" in argv and "socket,id=maqet-serial,fd=6" in argv
    # The hostile append string stays one argument: no shell ever sees it.
    assert argv[argv.index("-append") + 1] == "console=ttyS0 quiet; rm -rf /"
    assert argv[-2:] == ["-device", "virtio-rng-pci"]
    assert "-nodefaults" in argv and argv[argv.index("-display") + 1] == "none"


def test_disk_format_from_extension(tmp_path: Path) -> None:
    q, r = tmp_path / "a.qcow2", tmp_path / "b.img"
    q.write_bytes(b"")
    r.write_bytes(b"")
    argv = build_argv("i", "n", VMConfig.from_dict({"disks": [str(q), str(r)]}), 3, 4)
    assert f"file={q},format=qcow2,if=virtio" in argv
    assert f"file={r},format=raw,if=virtio" in argv


def test_accel_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAQET_TUI_ACCEL", "tcg")
    assert resolve_accel("auto") == "tcg"
    assert resolve_accel("kvm") == "kvm"  # an explicit choice beats the environment
    monkeypatch.setenv("MAQET_TUI_ACCEL", "kvm")
    assert resolve_accel("auto") == "kvm"
    assert resolve_accel("tcg") == "tcg"


def test_agent_defaults_to_false_and_leaves_the_argv_as_it_was() -> None:
    """Definitions stored before the key existed read as agent: false, with no channel."""
    plain = VMConfig.from_dict({})
    assert plain.agent is False and plain.to_dict()["agent"] is False
    argv = build_argv("abcd1234", "web", plain)
    assert not any("virtio-serial" in a or "qga" in a for a in argv)
    assert argv == build_argv("abcd1234", "web", VMConfig.from_dict({"agent": False}))


def test_agent_true_adds_the_agent_channel_on_its_placeholder() -> None:
    from maqet_tui.protocol.launch import AGENT_PORT_ID, QGA_FD

    argv = build_argv("abcd1234", "web", VMConfig.from_dict({"agent": True, "qemu_args": ["-S"]}))
    i = argv.index("virtio-serial-pci,id=maqet-virtio-serial")
    assert argv[i - 1 : i + 5] == [
        "-device",
        "virtio-serial-pci,id=maqet-virtio-serial",
        "-chardev",
        f"socket,id=maqet-qga,fd={QGA_FD}",
        "-device",
        "virtserialport,bus=maqet-virtio-serial.0,chardev=maqet-qga,"
        f"id={AGENT_PORT_ID},name=org.qemu.guest_agent.0",
    ]
    assert argv[-1] == "-S"  # the user's own arguments still come last


@pytest.mark.parametrize("value", ["yes", 1, 0, "true", [True]])
def test_agent_must_be_a_boolean(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        VMConfig.from_dict({"agent": value})
    assert info.value.field == "agent" and "expected true or false" in str(info.value)
