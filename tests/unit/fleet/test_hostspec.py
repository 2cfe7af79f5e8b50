"""Host definitions are checked before they reach ssh's argv or the remote shell."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from maqet_tui.common.errors import ConfigError
from maqet_tui.common.paths import Paths
from maqet_tui.fleet import hostspec as hs
from maqet_tui.fleet.ssh import base_argv, explain
from maqet_tui.protocol import agent as ap


@pytest.mark.parametrize("name", ["local", "", "-x", "a b", "deadbeef", "x" * 64])
def test_bad_host_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="host name"):
        hs.validate_host_name(name)


def test_host_names_follow_the_vm_name_rules() -> None:
    from maqet_tui.core.config import validate_name

    assert hs.validate_host_name("lab-2.rack_3") == validate_name("lab-2.rack_3")


@pytest.mark.parametrize("dest", ["", "-oProxyCommand=evil", "a b", "host\n"])
def test_bad_destinations_are_refused(dest: str) -> None:
    with pytest.raises(ConfigError, match="destination"):
        hs.validate_destination(dest)


@pytest.mark.parametrize("opt", ["Port", "=1", "Po rt=1", "-F=x", "Port=", "Port=1\n2"])
def test_bad_ssh_options_are_refused(opt: str) -> None:
    with pytest.raises(ConfigError, match="ssh option"):
        hs.validate_ssh_option(opt)


def test_command_is_split_and_each_word_quoted_for_the_remote_shell() -> None:
    spec = hs.make_spec("lab", "u@h", "env A='x y' '/opt/m t/maqet-tui'", ["Port=22"])
    assert spec.command == ("env", "A=x y", "/opt/m t/maqet-tui")
    line = hs.remote_command(spec, "show", "a;rm -rf /", "$HOME")
    assert shlex.split(line) == [
        "env",
        "A=x y",
        "/opt/m t/maqet-tui",
        "show",
        "a;rm -rf /",
        "$HOME",
    ]
    with pytest.raises(ConfigError, match="--command"):
        hs.split_command("  ")
    with pytest.raises(ConfigError, match="--command"):
        hs.split_command("'unclosed")


def test_ssh_argv_forces_batch_mode_and_ends_options_before_the_destination(
    tmp_path: Path,
) -> None:
    paths = Paths(tmp_path / "home", tmp_path / "rt")
    spec = hs.make_spec("lab", "u@h", None, ["BatchMode=no", "ConnectTimeout=3"])
    argv = base_argv(spec, paths)
    assert argv[:4] == ["ssh", "-T", "-o", "BatchMode=yes"]  # first: ssh keeps the first value
    assert argv.index("BatchMode=no") > argv.index("BatchMode=yes")
    assert argv.index("ConnectTimeout=3") < argv.index("ConnectTimeout=10")  # the user's wins
    assert argv[-2:] == ["--", "u@h"]
    control = next(a for a in argv if a.startswith("ControlPath="))
    cdir = Path(control.split("=", 1)[1]).parent
    assert (cdir.stat().st_mode & 0o777) == 0o700
    assert base_argv(spec, paths, tty=True)[1:4] == ["-t", "-e", "none"]  # raw bytes: no escapes


def test_ssh_failures_are_explained_in_one_line() -> None:
    spec = hs.make_spec("lab2", "u@x", None, None)
    refused = explain(spec, 255, "ssh: connect to host x port 22: Connection refused\n")
    assert refused == "host 'lab2' (u@x): ssh: connect to host x port 22: Connection refused"
    auth = explain(spec, 255, "u@x: Permission denied (publickey).\n")
    assert "authentication failed" in auth and "ssh-agent" in auth and "IdentityFile" in auth
    missing = explain(spec, 127, "sh: 1: maqet-tui: not found\n")
    assert "not installed" in missing and "--command" in missing
    assert "\n" not in refused + auth + missing


def test_hello_checks_name_both_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    mine = ap.hello("0.1.0")
    assert ap.check_hello(mine, "1.0", "peer") is None
    assert ap.check_hello({**mine, "protocol": "1.7"}, "1.3", "peer") is None
    why = ap.check_hello({**mine, "protocol": "2.0"}, "1.0", "the agent on host 'x'")
    assert why is not None and "2.0" in why and "1.0" in why and "host 'x'" in why
    assert ap.check_hello({"hello": "other"}, "1.0", "peer") is not None
    assert ap.check_hello("junk", "1.0", "peer") is not None
    monkeypatch.setenv(ap.PROTOCOL_ENV, "9.0")
    assert ap.hello("0.1.0")["protocol"] == "9.0"
