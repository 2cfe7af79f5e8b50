"""The keys of a VM on another host that reach into it: `e` edits its definition through its
host's agent (`set`), `x` runs `maqet-tui --host HOST ssh NAME`, `f` lists and changes its
forwards on that host; through the real sshd, with real runners and QEMU over there."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from textual.widgets import Input

from maqet_tui.common.paths import Paths
from maqet_tui.fleet import registry
from maqet_tui.fleet.ssh import close_master
from maqet_tui.store import models as store
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.forwards import ForwardsScreen
from maqet_tui.tui.screens.guest_actions import ssh_command
from maqet_tui.tui.screens.vm_form import VMFormScreen
from tests.fleet.conftest import Lab, add_host, agents
from tests.fleet.test_tui_hosts import BOOT, add_remote, remote_vm
from tests.guests import Guests
from tests.helpers import Env, run_cli, wait_for
from tests.sshd import REPO, Sshd, remote_command
from tests.tui.conftest import (
    current_screen,
    footer_actions,
    main_screen,
    notes,
    select,
    static_text,
    status_cell,
    wait_until,
)
from tests.tui.test_guest_network import forward, forwarded, free_port
from tests.tui.test_tmux import Tmux


def add_networked(lab: Lab, name: str, ssh_port: int) -> None:
    """A tiny VM on `lab` with an isolated user-mode network and an SSH forward (nothing in the
    guest answers on it: QEMU's slirp takes the forwards whatever runs inside)."""
    run_cli(
        lab.env, "--host", "lab", "add", name, "--memory", "64", "--accel", "tcg",
        "--net", "isolated", "--forward", f"tcp:{ssh_port}:22", check=True,
    )  # fmt: skip


def forwarded_there(lab: Lab, name: str) -> set[int]:
    """The host ports the remote QEMU really forwards (asked on the host itself)."""
    try:
        return forwarded(lab.remote_manager(), name)
    finally:
        store.close_db()


def form(app: MaqetApp) -> VMFormScreen:
    screen = current_screen(app)
    assert isinstance(screen, VMFormScreen)
    return screen


async def test_e_edits_a_remote_definition_through_its_host(lab: Lab) -> None:
    add_remote(lab, "there")
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "stopped", "listed", BOOT)
        await select(pilot, app, "there")
        await wait_until(pilot, lambda: "edit" in footer_actions(app), "e offered")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(current_screen(app), VMFormScreen), "form")
        assert "on lab" in static_text(form(app).query_one(".dialog-title"))
        memory = form(app).query_one("#f-memory", Input)
        assert memory.value == "64"  # the host's definition
        # A relative path has no directory on the host to be relative to: refused here.
        form(app).query_one("#f-kernel", Input).value = "vmlinuz"
        await pilot.press("enter")
        err = form(app).query_one("#err-kernel")
        await wait_until(pilot, lambda: "absolute path on lab" in static_text(err), "refused")
        # A file that the host does not have: refused by the host, under its field.
        form(app).query_one("#f-kernel", Input).value = "/nonexistent/vmlinuz"
        memory.value = "96"
        await pilot.press("enter")
        err = form(app).query_one("#err-kernel")
        await wait_until(pilot, lambda: "lab: kernel" in static_text(err), "the host's refusal")
        assert remote_vm(lab, "there")["config"]["memory"] == 64  # nothing changed
        form(app).query_one("#f-kernel", Input).value = ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: "saved there" in notes(app), "saved", BOOT)
        assert remote_vm(lab, "there")["config"]["memory"] == 96
        await wait_until(
            pilot, lambda: app.vms[main_screen(app).shown_id or ""]["name"] == "there", "sel"
        )


async def test_e_on_an_older_host_names_the_cli_instead(lab: Lab) -> None:
    old = f"env MAQET_TUI_AGENT_PROTOCOL=1.2 {remote_command(lab.remote)}"
    add_host(lab.env, lab.sshd, lab.remote, "old", "--command", old)
    add_remote(lab, "there")
    assert run_cli(lab.env, "host", "rm", "lab").returncode == 0  # only "old" reaches it now
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "stopped", "listed", BOOT)
        await select(pilot, app, "there")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(current_screen(app), VMFormScreen), "form")
        form(app).query_one("#f-memory", Input).value = "96"
        await pilot.press("enter")
        err = form(app).query_one("#err-form")
        await wait_until(pilot, lambda: "too old" in static_text(err), "why", BOOT)
        assert "maqet-tui --host old set there KEY=VALUE" in static_text(err)
        assert "\n" not in static_text(err).strip()
        assert remote_vm(lab, "there")["config"]["memory"] == 64


async def test_x_on_a_remote_vm_runs_ssh_through_its_host(lab: Lab) -> None:
    port = free_port()
    add_networked(lab, "there", port)
    assert run_cli(lab.env, "--host", "lab", "start", "there").returncode == 0
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "listed", BOOT)
        await select(pilot, app, "there")
        await wait_until(pilot, lambda: "ssh" in footer_actions(app), "x offered")
        await pilot.press("x")  # pilot's terminal cannot be handed over: says what to run
        want = "maqet-tui --host lab ssh there"
        await wait_until(pilot, lambda: any(want in n for n in notes(app)), "the command")
        vm = app.vms[main_screen(app).shown_id or ""]
    argv = ssh_command(str(lab.env.home), vm)
    assert argv[3:] == ["--home", str(lab.env.home), "--host", "lab", "ssh", "there"]
    # What x runs, run for real: it reaches the host, where `ssh there` finds the forward and
    # waits for the guest's SSH server (none in this guest) until the VM stops.
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line == f"waiting up to 180 s for the SSH server of there (127.0.0.1:{port})\n"
        assert run_cli(lab.env, "--host", "lab", "stop", "there", "--force").returncode == 0
        assert proc.wait(timeout=BOOT) == 1
        assert "VM 'there' stopped while waiting for its SSH server" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_ssh_on_a_host_from_the_cli(lab: Lab) -> None:
    """`--host lab ssh NAME` runs `ssh NAME` on the host (its own channel, not the agent's):
    the host's words and exit status, whether the VM runs or not."""
    port = free_port()
    add_networked(lab, "there", port)
    r = run_cli(lab.env, "--host", "lab", "ssh", "there", "--", "true")
    assert (r.returncode, r.stderr) == (1, "error: VM 'there' is not running (status: stopped)\n")
    assert run_cli(lab.env, "--host", "lab", "start", "there").returncode == 0
    r = run_cli(lab.env, "--host", "lab", "ssh", "there", "--wait", "0", "--", "true")
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: no SSH server answered for VM 'there' on 127.0.0.1:{port}")


async def test_f_on_a_remote_vm_changes_its_hosts_qemu(lab: Lab) -> None:
    ssh, extra = free_port(), free_port()
    add_networked(lab, "there", ssh)
    assert run_cli(lab.env, "--host", "lab", "start", "there").returncode == 0
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "listed", BOOT)
        await select(pilot, app, "there")
        await wait_until(pilot, lambda: "forwards" in footer_actions(app), "f offered")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(current_screen(app), ForwardsScreen), "dialog")
        dialog = current_screen(app)
        assert isinstance(dialog, ForwardsScreen)
        assert static_text(dialog.query_one(".dialog-title")) == "Port forwards of there on lab"
        assert "listen on lab's 127.0.0.1" in static_text(dialog.query_one("#fwd-where"))
        await wait_until(pilot, lambda: len(dialog.forwards) == 1, "the SSH forward listed", BOOT)
        await pilot.press(*f"tcp:{extra}:80", "enter")
        await wait_until(pilot, lambda: len(dialog.forwards) == 2, "the new one listed", BOOT)
        assert forwarded_there(lab, "there") == {ssh, extra}  # live in its QEMU
        assert forward(extra, 80) in remote_vm(lab, "there")["config"]["forwards"]
        await pilot.press(*f"tcp:{extra}:81", "enter")  # the host refuses: said, nothing changed
        error = dialog.query_one("#fwd-error")
        await wait_until(pilot, lambda: "lab: " in static_text(error), "the host's refusal", BOOT)
        assert len(remote_vm(lab, "there")["config"]["forwards"]) == 2
        await pilot.press("tab", "down", "d")
        await wait_until(pilot, lambda: len(dialog.forwards) == 1, "removed", BOOT)
        assert forwarded_there(lab, "there") == {ssh}
        assert remote_vm(lab, "there")["config"]["forwards"] == [forward(ssh)]
        await pilot.press("escape")
        await wait_until(pilot, lambda: current_screen(app) is main_screen(app), "closed")


@pytest.mark.timeout(900)  # the session's Debian pair may boot here first
def test_x_in_a_real_terminal_reaches_a_guest_on_another_host(
    debian_guests: Guests, env: Env, sshd: Sshd
) -> None:
    """The pair's home seen as host `deb` through the test sshd: `x` on its guest `a` suspends
    the app, `maqet-tui --host deb ssh a` gives a real shell in the guest in the same terminal,
    and `exit` brings the app back."""
    images = debian_guests.vars["MAQET_TUI_IMAGES"]  # where the host finds the image's user
    command = f"env MAQET_TUI_IMAGES={images} {remote_command(debian_guests.env)}"
    add_host(env, sshd, debian_guests.env, "deb", "--command", command)
    words = [f"{k}={os.environ[k]}" for k in ("HOME", "PATH") if k in os.environ]
    words += [f"MAQET_TUI_HOME={env.home}", f"MAQET_TUI_RUNTIME_DIR={env.runtime}"]
    words += [f"PYTHONPATH={REPO}"]
    tmux = Tmux(env.runtime / "tmux-server")
    try:
        tmux.run(
            "new-session", "-d", "-s", "t", "-x", "100", "-y", "24",
            shlex.join(["env", *words, sys.executable, "-m", "maqet_tui"]),
        )  # fmt: skip
        wait_for(lambda: "deb" in tmux.screen(), timeout=60, what="the host's VMs listed")
        wait_for(lambda: "SSH" in tmux.screen(), timeout=60, what="x offered for a")
        tmux.keys("g")  # `a` sorts first
        tmux.ssh_round_trip("HOST", "HOST")
        tmux.keys("q")
        wait_for(lambda: not tmux.alive(), timeout=30, what="the app to quit")
        assert debian_guests.show("a")["status"] == "running"
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=30)
        paths = Paths.resolve(env.home)
        for spec in registry.all_hosts(paths):
            close_master(spec, paths)
        store.close_db()
        wait_for(lambda: not agents(debian_guests.env), 15, "the agents on deb to end")
