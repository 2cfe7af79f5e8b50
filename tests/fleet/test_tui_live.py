"""The TUI keeping up with the fleet while it runs: hosts added and removed with the CLI, and a
remote VM's Log and Stats tabs fed live by its host's agent (`follow`), through the real sshd."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Sparkline

from maqet_tui.common.paths import Paths
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.widgets.log_view import LogView
from maqet_tui.tui.widgets.stats_pane import StatsPane
from tests.fleet.conftest import Lab, add_host, agents
from tests.fleet.test_tui_hosts import (
    BOOT,
    add_local,
    add_remote,
    down_text,
    host_cell,
    remote_vm,
)
from tests.helpers import run_cli, ssh_processes
from tests.sshd import remote_command
from tests.tui.conftest import (
    cli,
    log_text,
    main_screen,
    select,
    static_text,
    status_cell,
    table_names,
    wait_until,
)


def host_add_args(lab: Lab) -> list[str]:
    """`host add lab ...` as the fixture registers it (tests/fleet/conftest.py: add_host)."""
    dest, command = lab.sshd.destination(), remote_command(lab.remote)
    opts = [f"--ssh-option={o}" for o in lab.sshd.ssh_options()]
    return ["host", "add", "lab", dest, "--command", command, *opts]


def ssh_of(lab: Lab) -> dict[int, str]:
    """This side's ssh processes (clients and control masters: their argv names the runtime)."""
    return ssh_processes({str(lab.env.runtime)})


async def test_hosts_added_and_removed_while_the_tui_runs(lab: Lab) -> None:
    add_remote(lab, "there")
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: table_names(app) == ["there"], "lab's VM", BOOT)
        assert ssh_of(lab) and agents(lab.remote)

        code, out = await cli("host", "rm", "lab")
        assert code == 0, out
        await wait_until(pilot, lambda: table_names(app) == [], "lab's rows gone")
        assert app.hosts == [] and down_text(app) == ""
        await wait_until(pilot, lambda: not ssh_of(lab), "no ssh left for the removed host")
        await wait_until(pilot, lambda: not agents(lab.remote), "its agent ended", BOOT)

        code, out = await cli(*host_add_args(lab))
        assert code == 0, out
        await wait_until(pilot, lambda: table_names(app) == ["there"], "lab's VM back", BOOT)
        assert host_cell(app, "there") == "lab"

        code, out = await cli("host", "add", "lab2", "u@127.0.0.1", "--ssh-option", "Port=1")
        assert code == 0, out
        await wait_until(pilot, lambda: "lab2 — unreachable" in down_text(app), "lab2 down")
        code, out = await cli("host", "rm", "lab2")
        assert code == 0, out
        await wait_until(pilot, lambda: down_text(app) == "", "lab2's down-line gone")
        assert table_names(app) == ["there"] and app.hosts == ["lab"]  # lab never noticed


def runner_log(lab: Lab, name: str) -> Path:
    return Paths.resolve(lab.remote.home).runner_log(str(remote_vm(lab, name)["id"]))


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


async def test_a_remote_vms_log_is_followed_line_by_line(lab: Lab) -> None:
    add_local(lab.env, "here")
    add_remote(lab, "there")
    assert run_cli(lab.env, "--host", "lab", "start", "there").returncode == 0
    log_path = runner_log(lab, "there")
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "listed", BOOT)
        await select(pilot, app, "there")
        await pilot.press("4")
        view = main_screen(app).query_one(LogView)
        await wait_until(pilot, lambda: "qemu" in log_text(view).lower(), "the log's tail")
        # Lines the runner appends (no change of the store, so no push of the rows): followed.
        append(log_path, "follow-mark-1 first\n")
        await wait_until(pilot, lambda: "follow-mark-1" in log_text(view), "the new line")
        append(log_path, "follow-mark-2 second\nfollow-mark-3 third\n")
        await wait_until(pilot, lambda: "follow-mark-3" in log_text(view), "two more")
        marks = ["follow-mark-1 first", "follow-mark-2 second", "follow-mark-3 third"]
        assert log_text(view).splitlines()[-3:] == marks  # appended, each once
        append(log_path, "half a line")  # shown only once it is whole
        append(log_path, " and the rest\n")
        await wait_until(pilot, lambda: log_text(view).endswith("a line and the rest"), "whole")

        await pilot.press("escape")
        await select(pilot, app, "here")  # a local VM: its own log; then back, from the tail
        await wait_until(pilot, lambda: "follow-mark" not in log_text(view), "here's log")
        await select(pilot, app, "there")
        await pilot.press("4")
        await wait_until(pilot, lambda: "a line and the rest" in log_text(view), "there again")
        assert [ln for ln in log_text(view).splitlines() if ln.startswith("follow-")] == marks
    assert remote_vm(lab, "there")["status"] == "running"


async def test_a_remote_running_vm_has_live_stats(lab: Lab) -> None:
    add_remote(lab, "there")
    assert run_cli(lab.env, "--host", "lab", "start", "there").returncode == 0
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "listed", BOOT)
        await pilot.press("7")
        pane = main_screen(app).query_one(StatsPane)

        def status() -> str:
            return static_text(pane.query_one("#stats-status"))

        await wait_until(pilot, lambda: pane.points >= 2, "two samples relayed", BOOT)
        assert status().startswith("there: last ") and status().rstrip().endswith("samples")
        for plot in ("cpu", "mem", "disk", "io"):
            assert len(pane.query_one(f"#stats-{plot}", Sparkline).data or []) >= 2
        assert max(pane.query_one("#stats-mem", Sparkline).data or [0]) > 1 << 20
        before = pane.points
        await wait_until(pilot, lambda: pane.points > before, "a live sample after", BOOT)

        code, out = await cli("--host", "lab", "stop", "there", "--force")
        assert code == 0, out
        await wait_until(pilot, lambda: "is stopped: no samples" in status(), "stopped", BOOT)
        assert app.history.vm_ids() == []  # its history went with its runner


async def test_an_older_agent_still_shows_the_log_and_says_why_no_stats(lab: Lab) -> None:
    old = f"env MAQET_TUI_AGENT_PROTOCOL=1.1 {remote_command(lab.remote)}"
    add_host(lab.env, lab.sshd, lab.remote, "old", "--command", old)
    add_remote(lab, "there")
    assert run_cli(lab.env, "--host", "lab", "start", "there").returncode == 0
    assert run_cli(lab.env, "host", "rm", "lab").returncode == 0  # only "old" reaches it now
    app = MaqetApp(str(lab.env.home), frozen_host=True, live_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "there") == "running", "listed", BOOT)
        await select(pilot, app, "there")
        await pilot.press("4")
        view = main_screen(app).query_one(LogView)
        await wait_until(pilot, lambda: "qemu" in log_text(view).lower(), "the log, read whole")
        await pilot.press("7")
        pane = main_screen(app).query_one(StatsPane)
        await wait_until(
            pilot, lambda: "does not relay" in static_text(pane.query_one("#stats-status")), "why"
        )
