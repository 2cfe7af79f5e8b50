"""The SSH key choice, the `ssh` argv, the checks a start makes of a VM's network, and QEMU's
network failures told in our words."""

from __future__ import annotations

import shlex
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.common.errors import ConfigError, StartError, StateError, TimeoutError_
from maqet_tui.common.paths import Paths
from maqet_tui.core import net_preflight, ssh_keys
from maqet_tui.core.ssh_cmd import ssh_argv, wait_for_sshd

SSH = {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 2222, "guest_port": 22}


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "home", tmp_path / "rt")


def vm(**config: Any) -> dict[str, Any]:
    cfg = {"net": "isolated", "forwards": [SSH], "image": None, "ssh_key": None, **config}
    return {"id": "abcd1234", "name": "web", "status": "running", "config": cfg}


def test_a_key_pair_is_generated_once_per_home_and_is_private(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))  # no ~/.ssh/id_*.pub
    paths.home.mkdir()
    pub = ssh_keys.choose_key(paths, None)
    assert pub == paths.home / "ssh" / "id_ed25519.pub"
    assert ssh_keys.read_pubkey(pub).startswith("ssh-ed25519 ")
    private = ssh_keys.private_key(pub)
    assert private is not None
    for p in (pub, private):
        assert p.stat().st_mode & 0o777 == 0o600
    assert (paths.home / "ssh").stat().st_mode & 0o777 == 0o700
    before = pub.read_text()
    assert ssh_keys.choose_key(paths, None) == pub and pub.read_text() == before


def test_the_users_own_key_comes_before_a_generated_one(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    user = tmp_path / "user"
    (user / ".ssh").mkdir(parents=True)
    (user / ".ssh" / "id_rsa.pub").write_text("ssh-rsa AAAAB3Nza me@host\n")
    monkeypatch.setenv("HOME", str(user))
    paths.home.mkdir()
    assert ssh_keys.choose_key(paths, None) == user / ".ssh" / "id_rsa.pub"
    assert not (paths.home / "ssh" / "id_ed25519").exists()


@pytest.mark.parametrize("text", ["", "not a key\n", "ssh-rsa AAAA\nssh-rsa BBBB\n", "x" * 20000])
def test_a_file_that_is_not_a_public_key_is_refused(tmp_path: Path, text: str) -> None:
    f = tmp_path / "k.pub"
    f.write_text(text)
    with pytest.raises(ConfigError, match="not an OpenSSH public key"):
        ssh_keys.read_pubkey(f)


def test_ssh_argv_uses_the_forward_alias_and_home_known_hosts(paths: Paths) -> None:
    paths.home.mkdir()
    pub = paths.home / "k.pub"
    pub.write_text("ssh-ed25519 AAAA x\n")
    (paths.home / "k").write_text("private")
    argv = ssh_argv(paths, vm(ssh_key=str(pub)), ["sh", "-c", "exit 7"])
    assert argv[argv.index("-p") + 1] == "2222"
    opts = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    assert f"UserKnownHostsFile={paths.home / 'ssh' / 'known_hosts'}" in opts
    assert "StrictHostKeyChecking=accept-new" in opts
    assert "HostKeyAlias=maqet-abcd1234" in opts
    assert argv[argv.index("-i") + 1] == str(paths.home / "k")
    assert argv[-2] == "127.0.0.1"
    assert shlex.split(argv[-1]) == ["sh", "-c", "exit 7"]  # an argv, exactly, for the guest
    assert ssh_argv(paths, vm(), ["ls | wc -l"])[-1] == "ls | wc -l"  # one: a command line
    assert ssh_argv(paths, vm(), [])[-1] == "127.0.0.1"  # none: a login shell
    assert "-i" not in ssh_argv(paths, vm(), [])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"status": "stopped"}, "not running"),
        ({"config": {"net": None, "forwards": []}}, "no user-mode network"),
        ({"config": {"net": "bridge=br0", "forwards": []}}, "no user-mode network"),
        ({"config": {"net": "user", "forwards": [{**SSH, "guest_port": 80}]}}, "no SSH forward"),
    ],
)
def test_ssh_says_clearly_why_it_cannot_connect(
    paths: Paths, change: dict[str, Any], words: str
) -> None:
    with pytest.raises(StateError, match=words):
        ssh_argv(paths, {**vm(), **change}, [])


def test_a_busy_forward_is_found_before_start_and_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert net_preflight.port_in_use("tcp", port)
        with pytest.raises(StartError) as err:
            net_preflight.check_ports("web", [{**SSH, "host_port": port}])
    text = str(err.value)
    assert f"127.0.0.1:{port}" in text and "'web'" in text and "forward rm web" in text
    assert not net_preflight.port_in_use("tcp", port)


def test_qemus_forward_failure_becomes_the_same_line() -> None:
    qemu = "qemu-system-x86_64: Could not set up host forwarding rule 'tcp:127.0.0.1:4444-:22'"
    assert net_preflight.start_hint("web", "isolated", qemu) == net_preflight.busy_message(
        "web", "tcp", 4444
    )
    assert net_preflight.start_hint("web", "user", "other failure") == "other failure"


def test_the_bridge_helpers_acl_is_read_as_the_helper_reads_it(tmp_path: Path) -> None:
    conf = tmp_path / "bridge.conf"
    extra = tmp_path / "more.conf"
    extra.write_text("allow br1\n")
    conf.write_text(f"# comment\nallow br0\ninclude {extra}\ndeny br2\n")
    assert net_preflight._acl_allows(conf, "br0") is True
    assert net_preflight._acl_allows(conf, "br1") is True
    assert net_preflight._acl_allows(conf, "br3") is False
    assert net_preflight._acl_allows(conf, "br2") is False
    conf.write_text("allow all\ndeny br2\n")
    assert net_preflight._acl_allows(conf, "br9") is True
    assert net_preflight._acl_allows(conf, "br2") is False
    assert net_preflight._acl_allows(tmp_path / "missing", "br0") is False  # helper: deny all


def test_a_bridge_that_does_not_exist_is_refused_before_start() -> None:
    problem = net_preflight.bridge_problem("nosuchbr0")
    assert problem is not None and "does not exist" in problem


def test_ssh_waits_for_the_banner_not_for_an_accepted_connection() -> None:
    """A forward accepts before the guest listens (and then closes): only `SSH-` counts."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        greeted = threading.Event()

        def serve() -> None:
            for greet in (False, True):
                conn, _ = srv.accept()
                with conn:
                    if greet:
                        conn.sendall(b"SSH-2.0-test\r\n")
                        greeted.set()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        said: list[str] = []
        wait_for_sshd("web", port, 10, lambda: True, said.append)
        t.join(5)
    assert greeted.is_set() and len(said) == 1 and "waiting up to 10 s" in said[0]


def test_ssh_gives_up_when_the_vm_stops_or_time_runs_out() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(StateError, match="stopped while waiting"):
            wait_for_sshd("web", port, 10, lambda: False, lambda _: None)
        with pytest.raises(TimeoutError_, match=f"127.0.0.1:{port} within 0.2 s"):
            wait_for_sshd("web", port, 0.2, lambda: True, lambda _: None)
