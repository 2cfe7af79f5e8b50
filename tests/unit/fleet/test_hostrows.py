"""Remote rows in the one table: keys that never collide with local ids, and nothing of another
machine (socket, pids) left where this machine's services would use it."""

from __future__ import annotations

from maqet_tui.tui import hostrows
from maqet_tui.tui.vmview import allowed, matches


def row(**extra: object) -> dict[str, object]:
    return {
        "id": "0000abcd",
        "name": "web",
        "status": "running",
        "socket_path": "/run/x.sock",
        "qemu_pid": 41,
        "runner_pid": 40,
        **extra,
    }


def test_a_remote_row_is_keyed_by_host_and_keeps_nothing_local_looking() -> None:
    vm = hostrows.remote_row("lab2", row())
    assert vm["id"] == "lab2:0000abcd" and vm["remote_id"] == "0000abcd"
    assert hostrows.ident(vm) == "0000abcd" and hostrows.host_of(vm) == "lab2"
    assert (vm["socket_path"], vm["qemu_pid"], vm["runner_pid"]) == (None, None, None)
    assert (vm["remote_qemu_pid"], vm["remote_runner_pid"]) == (41, 40)
    local = row()
    assert hostrows.host_of(local) is None and hostrows.ident(local) == "0000abcd"


def test_a_lost_host_s_rows_are_unknown_and_offer_no_action() -> None:
    rows = hostrows.lost({"lab2:1": hostrows.remote_row("lab2", row())})
    vm = rows["lab2:1"]
    assert vm["status"] == "unknown"
    assert not any(allowed(a, vm["status"]) for a in ("start", "stop", "force_stop", "pause"))


def test_the_filter_matches_the_host_and_the_down_line_says_why() -> None:
    vm = hostrows.remote_row("lab2", row())
    assert matches(vm, "lab2 web") and not matches(vm, "lab3")
    line = hostrows.down_line(
        "lab2", "host 'lab2' (u@h): ssh: connect to host h port 22: Connection refused", 3.6
    )
    assert line == (
        "lab2 — unreachable: ssh: connect to host h port 22: Connection refused, retrying in 4 s"
    )
