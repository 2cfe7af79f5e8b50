"""The CLI contract (architecture.md): output, JSON fields, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from maqet_tui.core.manager import Manager
from tests.helpers import ALIAS_BOMB, Env, run_cli

CONTRACT_FIELDS = {
    "id",
    "name",
    "status",
    "qemu_pid",
    "runner_pid",
    "socket_path",
    "last_error",
    "config",
}


def test_add_ls_show_json(env: Env, manager: Manager) -> None:
    out = run_cli(
        env,
        "add",
        "web-1",
        "--memory",
        "64",
        "--cpus",
        "2",
        "--accel",
        "tcg",
        "--qemu-arg",
        "-device",  # the contract's spelling: a value that starts with a dash
        "--qemu-arg=virtio-rng-pci",
    )
    assert out.returncode == 0 and out.stdout.startswith("added web-1 (")
    vms = json.loads(run_cli(env, "ls", "--json").stdout)
    assert len(vms) == 1 and set(vms[0]) >= CONTRACT_FIELDS
    assert vms[0]["config"]["qemu_args"] == ["-device", "virtio-rng-pci"]
    one = json.loads(run_cli(env, "show", "web-1", "--json").stdout)
    assert set(one) >= CONTRACT_FIELDS and one["config"]["cpus"] == 2
    assert one["status"] == "stopped" and one["qemu_pid"] is None
    table = run_cli(env, "ls").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "ID", "STATUS"] and "web-1" in table[1]


def test_memory_takes_a_unit_on_add_and_set(env: Env, manager: Manager) -> None:
    assert run_cli(env, "add", "x", "--memory", "1G", "--accel", "tcg").returncode == 0
    assert json.loads(run_cli(env, "show", "x", "--json").stdout)["config"]["memory"] == 1024
    out = run_cli(env, "set", "x", "memory=2G")
    assert out.returncode == 0, out.stderr
    assert json.loads(run_cli(env, "show", "x", "--json").stdout)["config"]["memory"] == 2048
    assert "MiB, or with a unit: 512M, 1G" in run_cli(env, "add", "--help").stdout


def test_start_qmp_pause_resume_stop_through_cli(env: Env, manager: Manager) -> None:
    assert run_cli(env, "add", "a", "--memory", "64", "--accel", "tcg").returncode == 0
    out = run_cli(env, "start", "a")
    assert out.returncode == 0 and "a is running" in out.stdout
    status = json.loads(run_cli(env, "qmp", "a", "query-status").stdout)
    assert status["status"] == "running"
    assert json.loads(run_cli(env, "qmp", "a", "query-kvm", "{}").stdout)["enabled"] is False
    assert "a is paused" in run_cli(env, "pause", "a").stdout
    assert "a is running" in run_cli(env, "resume", "a").stdout
    assert "a is stopped" in run_cli(env, "stop", "a", "--force").stdout
    log = run_cli(env, "logs", "a")
    assert log.returncode == 0 and "final status stopped" in log.stdout


# The alias bomb as one flow sequence, for `set KEY=VALUE` (VALUE is YAML).
INLINE_BOMB = "[" + ", ".join(ln[4:] for ln in ALIAS_BOMB.splitlines()[1:]) + "]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "ghost"), "error: no VM named 'ghost'"),
        (("start", "ghost"), "error: no VM named 'ghost'"),
        (("stop", "ghost"), "error: no VM named 'ghost'"),
        (("qmp", "ghost", "query-status"), "error: no VM named 'ghost'"),
        (("rm", "ghost"), "error: no VM named 'ghost'"),
        (("add", "bad/name"), "error: invalid VM name 'bad/name'"),
        (("add", "x", "--kernel", "/no/such/vmlinuz"), "error: kernel: file '/no/such/vmlinuz'"),
        (("add", "x", "--memory", "-5"), "error: memory: '-5' is not a size; use MiB like 512"),
        (("add", "x", "--memory", "8"), "error: memory: 8 is out of range (16..1048576)"),
        (("add", "x", "--memory", "1000K"), "error: memory: '1000K' is not a whole number of MiB"),
        (("add", "x", "--qemu-arg=-daemonize"), "error: qemu_args: '-daemonize' is managed"),
        (("qmp", "a", "query-status", "{bad"), "error: ARGUMENTS_JSON is not valid JSON"),
        (("qmp", "a", "query-status", "[1]"), "error: ARGUMENTS_JSON must be a JSON object"),
        (("pause", "a"), "error: VM 'a' is not running (status: stopped)"),
        (("add", "a"), "error: a VM named 'a' already exists"),
        (("add", "deadbeef"), "error: invalid VM name 'deadbeef': 8 hex digits is the form of"),
        (("add", "CAFE0123"), "error: invalid VM name 'CAFE0123': 8 hex digits is the form of"),
        (("show", "0badf00d"), "error: no VM with id '0badf00d'"),
        (
            ("add", "x", "--qemu-arg=--readconfig=/etc/q.cfg"),
            "error: qemu_args: '-readconfig' (given as '--readconfig=/etc/q.cfg') is managed",
        ),
        (("add", "x", "--qemu-arg=-D", "--qemu-arg=/tmp/q.log"), "error: qemu_args: '-D' is"),
        (
            ("add", "x", "--qemu-arg=-parallel", "--qemu-arg=mon:stdio"),
            "error: qemu_args: 'mon:stdio' would add a monitor",
        ),
        (("set", "a", "memory=" + "9" * 5000), "error: memory: not valid YAML (a number or a"),
        (("set", "a", "cpus=" + INLINE_BOMB), "error: cpus: expands to more than 10000 values"),
        (("set", "a", "x\ny=1"), "error: unknown key: 'x\\ny'"),
        (
            ("set", "a", "foo=1"),
            "error: unknown key: foo (valid keys: accel, agent, append, binary, cpus, disks, "
            "forwards, image, initrd, kernel, mac, machine, memory, net, qemu_args, seed, shares, "
            "ssh_key, user_data)",
        ),
    ],
)
def test_errors_are_one_line_exit_1_and_change_nothing(
    env: Env, manager: Manager, args: tuple[str, ...], message: str
) -> None:
    manager.add("a", {"memory": 64, "accel": "tcg"})
    before = manager.list()
    out = run_cli(env, *args)
    assert out.returncode == 1
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr
    assert manager.list() == before


def test_an_id_is_never_taken_for_a_vm_named_like_it(env: Env, manager: Manager) -> None:
    assert run_cli(env, "add", "a", "--accel", "tcg", "--new-disk", "16M").returncode == 0
    assert run_cli(env, "add", "b", "--accel", "tcg", "--new-disk", "16M").returncode == 0
    a, b = manager.get("a"), manager.get("b")
    disk_a, disk_b = (Path(vm["config"]["disks"][0]["file"]) for vm in (a, b))
    # `add` refuses such a name now; a row written before it did can still carry one.
    con = sqlite3.connect(manager.paths.db)
    con.execute("UPDATE vm SET name = ? WHERE id = ?", (a["id"], b["id"]))
    con.commit()
    con.close()
    out = run_cli(env, "rm", a["id"], "--delete-disks")
    assert out.returncode == 0 and out.stdout == "removed a\n", out
    assert not disk_a.exists() and disk_b.is_file()
    assert [vm["id"] for vm in manager.list()] == [b["id"]]
    assert json.loads(run_cli(env, "show", b["id"], "--json").stdout)["name"] == a["id"]
    assert run_cli(env, "rm", b["id"].upper(), "--delete-disks").returncode == 0
    assert manager.list() == [] and not disk_b.exists()


@pytest.mark.parametrize(
    "text", [ALIAS_BOMB, f"memory: '{'x' * 1_000_000}'\n"], ids=["bomb", "1MB"]
)
def test_hostile_definition_files_are_short_errors(
    env: Env, manager: Manager, tmp_path: Path, text: str
) -> None:
    f = tmp_path / "vm.yaml"
    f.write_text(text)
    out = run_cli(env, "add", "v", "--from", str(f))
    assert out.returncode == 1 and out.stderr.startswith("error: ")
    assert out.stderr.count("\n") == 1 and len(out.stderr.replace(str(f), "")) < 200, out.stderr
    assert "internal error" not in out.stderr and manager.list() == []


def test_usage_errors_exit_2(env: Env, manager: Manager) -> None:
    assert run_cli(env, "frobnicate").returncode == 2
    assert run_cli(env, "add").returncode == 2
    assert run_cli(env, "stop", "a", "--timeout", "soon").returncode == 2


def test_unreadable_database_is_one_line(env: Env) -> None:
    env.home.mkdir(exist_ok=True)
    (env.home / "maqet.db").write_bytes(b"garbage" * 1000)
    out = run_cli(env, "ls")
    assert out.returncode == 1 and out.stderr.startswith("error: cannot open database")
    assert out.stderr.count("\n") == 1


def test_cli_never_imports_textual(env: Env, manager: Manager) -> None:
    code = (
        "import sys; from maqet_tui.entry import main; rc = main(['ls']);"
        "bad = [m for m in sys.modules if m.startswith('textual')];"
        "assert not bad, bad; sys.exit(rc)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "MAQET_TUI_HOME": str(env.home)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


def test_start_and_stop_say_when_there_was_nothing_to_do(env: Env, manager: Manager) -> None:
    manager.add("a", {"memory": 64, "accel": "tcg"})
    assert run_cli(env, "stop", "a").stdout == "a is already stopped\n"
    assert run_cli(env, "start", "a").stdout.startswith("a is running (qemu pid ")
    assert run_cli(env, "start", "a").stdout.startswith("a is already running (qemu pid ")
    assert run_cli(env, "stop", "a", "--force").stdout == "a is stopped\n"
