"""`host add | ls | rm` and their refusals: nothing reaches ssh here."""

from __future__ import annotations

import json

from tests.helpers import Env, run_cli


def test_add_ls_rm(env: Env) -> None:
    r = run_cli(
        env, "host", "add", "lab2", "me@lab2.example", "--command",
        "env MAQET_TUI_HOME=/srv/vms '/opt/maqet tui/bin/maqet-tui'",
        "--ssh-option", "Port=2222", "--ssh-option", "ProxyJump=bastion",
    )  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "added host lab2 (me@lab2.example)\n")
    run_cli(env, "host", "add", "a-first", "first", check=True)
    listed = json.loads(run_cli(env, "host", "ls", "--json", check=True).stdout)
    assert listed == [
        {"name": "a-first", "destination": "first", "command": ["maqet-tui"], "ssh_options": []},
        {
            "name": "lab2",
            "destination": "me@lab2.example",
            "command": ["env", "MAQET_TUI_HOME=/srv/vms", "/opt/maqet tui/bin/maqet-tui"],
            "ssh_options": ["Port=2222", "ProxyJump=bastion"],
        },
    ]
    table = run_cli(env, "host", "ls", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "DESTINATION", "COMMAND", "SSH", "OPTIONS"]
    assert table[2].split()[:2] == ["lab2", "me@lab2.example"]
    r = run_cli(env, "host", "rm", "lab2")
    assert (r.returncode, r.stdout) == (0, "removed host lab2\n")
    assert [h["name"] for h in json.loads(run_cli(env, "host", "ls", "--json").stdout)] == [
        "a-first"
    ]


def test_refusals_change_nothing(env: Env) -> None:
    run_cli(env, "host", "add", "lab", "lab.example", check=True)
    for args, words in (
        (("local", "x"), "reserved"),
        (("lab", "other"), "already exists"),
        (("bad name", "x"), "invalid host name"),
        (("ok", "-oProxyCommand=touch /tmp/owned"), "must not start with '-'"),
        (("ok", ""), "invalid destination"),
        (("ok", "x", "--ssh-option", "Port"), "KEY=VALUE"),
        (("ok", "x", "--ssh-option=-F=/etc/x"), "KEY=VALUE"),
        (("ok", "x", "--command", ""), "empty"),
        (("ok", "x", "--command", "'open"), "--command"),
    ):
        r = run_cli(env, "host", "add", *args)
        assert r.returncode == 1 and r.stdout == "", args
        assert r.stderr.startswith("error: ") and words in r.stderr and r.stderr.count("\n") == 1
    assert [h["name"] for h in json.loads(run_cli(env, "host", "ls", "--json").stdout)] == ["lab"]
    r = run_cli(env, "host", "rm", "nosuch")
    assert r.returncode == 1 and r.stderr == (
        "error: no host named 'nosuch' (maqet-tui host ls lists them)\n"
    )
    r = run_cli(env, "--host", "nosuch", "ls")
    assert r.returncode == 1 and "no host named 'nosuch'" in r.stderr
    r = run_cli(env, "--host", "lab")
    assert r.returncode == 2 and "--host needs a COMMAND" in r.stderr


def test_host_local_is_this_machine(env: Env) -> None:
    run_cli(env, "add", "here", "--memory", "64", check=True)
    assert json.loads(run_cli(env, "-H", "local", "ls", "--json").stdout)[0]["name"] == "here"
