"""The network keys of a definition (`net`, `forwards`, `mac`, and the image keys beside them),
the MAC derived from a VM's id, forward parsing, and the QEMU options they become."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.errors import ConfigError
from maqet_tui.core import net_spec
from maqet_tui.core.config import VMConfig, build_argv

SSH = {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 2222, "guest_port": 22}


def test_a_vm_without_network_keys_has_no_nic_as_before() -> None:
    argv = build_argv("abcd1234", "old", VMConfig.from_dict({"memory": 64}))
    assert "-nodefaults" in argv
    assert not {"-netdev", "-nic", "-net"} & set(argv)
    assert not any("virtio-net" in a for a in argv)
    assert net_spec.network_json(VMConfig.from_dict({}).to_dict(), "abcd1234") == {
        "mode": "none",
        "mac": None,
        "forwards": [],
    }


def test_mac_is_stable_per_id_in_qemus_range_and_differs_between_ids() -> None:
    a = net_spec.derive_mac("abcd1234")
    assert a == net_spec.derive_mac("abcd1234")
    assert a.startswith("52:54:00:") and net_spec.MAC_RE.match(a)
    macs = {net_spec.derive_mac(f"{i:08x}") for i in range(200)}
    assert len(macs) == 200


def test_isolated_is_user_mode_with_restrict_and_forwards_on_localhost() -> None:
    cfg = VMConfig.from_dict({"net": "isolated", "forwards": [SSH], "mac": "52:54:00:AA:bb:cc"})
    argv = build_argv("abcd1234", "vm", cfg)
    i = argv.index("-netdev")
    assert argv[i + 1] == "user,id=maqet-net,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22"
    assert argv[i + 2 : i + 4] == [
        "-device",
        "virtio-net-pci,netdev=maqet-net,mac=52:54:00:aa:bb:cc",
    ]


def test_user_mode_has_no_restrict_and_a_derived_mac_when_none_is_stored() -> None:
    argv = build_argv("abcd1234", "vm", VMConfig.from_dict({"net": "user"}))
    assert "user,id=maqet-net" in argv
    assert f"virtio-net-pci,netdev=maqet-net,mac={net_spec.derive_mac('abcd1234')}" in argv


def test_none_and_bridge() -> None:
    assert "-netdev" not in build_argv("abcd1234", "vm", VMConfig.from_dict({"net": "none"}))
    argv = build_argv("abcd1234", "vm", VMConfig.from_dict({"net": "bridge=br0"}))
    assert f"bridge,id=maqet-net,br=br0,helper={net_spec.BRIDGE_HELPER}" in argv


def test_the_seed_is_a_read_only_drive_after_the_vms_own_disks(tmp_path: Path) -> None:
    disk = tmp_path / "root.qcow2"
    disk.write_bytes(b"")
    cfg = VMConfig.from_dict({"disks": [str(disk)], "seed": str(tmp_path / "seed.img")})
    drives = [a for a in build_argv("abcd1234", "vm", cfg) if a.startswith("file=")]
    assert drives[0].startswith(f"file={disk},")
    assert drives[1] == f"file={tmp_path / 'seed.img'},format=raw,if=virtio,readonly=on"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("tcp:8080:80", ("tcp", 8080, 80)),
        ("UDP:5353:53", ("udp", 5353, 53)),
        ("tcp:1:65535", ("tcp", 1, 65535)),
    ],
)
def test_forward_parsing(text: str, want: tuple[str, int, int]) -> None:
    f = net_spec.parse_forward(text)
    assert (f["proto"], f["host_port"], f["guest_port"]) == want
    assert f["host_addr"] == "127.0.0.1"


@pytest.mark.parametrize(
    "text", ["tcp:8080", "sctp:1:2", "tcp:0:80", "tcp:65536:80", "tcp:x:80", "tcp:1:2:3", ""]
)
def test_bad_forwards_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="forward"):
        net_spec.parse_forward(text)


def test_forward_keys() -> None:
    assert net_spec.parse_forward_key("TCP:8080") == ("tcp", 8080)
    for bad in ("8080", "tcp:", "icmp:1", "tcp:99999"):
        with pytest.raises(ConfigError):
            net_spec.parse_forward_key(bad)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"net": "wifi"}, "net", "not one of"),
        ({"net": "bridge="}, "net", "not one of"),
        ({"net": "bridge=a,b"}, "net", "not one of"),
        ({"net": "bridge=" + "x" * 16}, "net", "not one of"),
        ({"net": 3}, "net", "not one of"),
        ({"forwards": [SSH]}, "forwards", "only user-mode"),
        ({"net": "none", "forwards": [SSH]}, "forwards", "only user-mode"),
        ({"net": "bridge=br0", "forwards": [SSH]}, "forwards", "only user-mode"),
        ({"net": "user", "forwards": [SSH, SSH]}, "forwards", "forwarded twice"),
        ({"net": "user", "forwards": [{**SSH, "host_addr": "0.0.0.0"}]}, "forwards", "127.0.0"),
        ({"net": "user", "forwards": [{**SSH, "proto": "icmp"}]}, "forwards", "tcp or udp"),
        ({"net": "user", "forwards": [{**SSH, "guest_port": 0}]}, "forwards", "not a port"),
        ({"net": "user", "forwards": [{**SSH, "extra": 1}]}, "forwards", "unknown key"),
        ({"net": "user", "forwards": "tcp:1:2"}, "forwards", "expected a list"),
        ({"net": "user", "forwards": ["tcp:1:2"]}, "forwards", "expected a mapping"),
        ({"mac": "00:11:22:33:44:55"}, "mac", "52:54:00"),
        ({"mac": "52:54:00:zz:00:00"}, "mac", "52:54:00"),
        ({"image": "../etc"}, "image", "invalid image name"),
        ({"image": 5}, "image", "expected an image name"),
        ({"ssh_key": "/no/such.pub"}, "ssh_key", "does not exist"),
        ({"user_data": "/no/such"}, "user_data", "does not exist"),
        ({"seed": "-x"}, "seed", "must not start"),
    ],
)
def test_bad_network_and_image_keys_name_their_field(
    data: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        VMConfig.from_dict(data)
    assert err.value.field == field


def test_new_keys_round_trip_through_the_stored_form() -> None:
    cfg = VMConfig.from_dict(
        {"image": "debian-12", "net": "isolated", "forwards": [SSH], "seed": "/x/seed.img"}
    )
    assert VMConfig.from_dict(cfg.to_dict()) == cfg
    assert net_spec.network_json(cfg.to_dict(), "abcd1234") == {
        "mode": "isolated",
        "mac": net_spec.derive_mac("abcd1234"),
        "forwards": [SSH],
    }


def test_ssh_forward_is_the_tcp_one_to_port_22() -> None:
    udp = {**SSH, "proto": "udp"}
    web = {**SSH, "host_port": 8080, "guest_port": 80}
    assert net_spec.ssh_forward([udp, web]) is None
    assert net_spec.ssh_forward([udp, web, SSH]) == SSH
