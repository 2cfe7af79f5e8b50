"""The Snapshots tab on a tiny VM with a real qcow2 disk: offline and online snapshots taken,
reverted and deleted from the keyboard, and checked against the image itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maqet_tui.core.definitions import add_with_disks
from maqet_tui.core.manager import Manager
from maqet_tui.core.peer_yaml import NewDisk
from maqet_tui.core.snapshots import list_snapshots
from maqet_tui.tui.app import MaqetApp
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.screens.snapshot_tag import SnapshotTagScreen, suggest_tag, tag_problem

from .conftest import (
    footer_actions,
    main_screen,
    notes,
    select,
    snapshot_pane,
    static_text,
    status_cell,
    wait_until,
)

MakeApp = Callable[..., MaqetApp]
TinyVM = Callable[..., dict[str, Any]]
SNAP_KEYS = {"snapshot_take", "snapshot_revert", "snapshot_delete"}
# A QEMU snapshot job saving or loading RAM under TCG: a second alone, far longer on a loaded host.
JOB = 90.0


def tags(app: MaqetApp) -> list[str]:
    return [str(s["tag"]) for s in snapshot_pane(app).snapshots or []]


def disk_vm(manager: Manager, name: str = "s") -> dict[str, Any]:
    disk = NewDisk("d0", "32M", None, None, "virtio", "disk")
    return add_with_disks(manager, name, {"memory": 64, "accel": "tcg"}, [disk])


async def test_take_and_delete_snapshots_from_the_keyboard(
    make_app: MakeApp, manager: Manager, tiny_vm: TinyVM
) -> None:
    disk_vm(manager)
    tiny_vm("nodisk")
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "s") == "stopped", "s listed")
        pane = snapshot_pane(app)
        await select(pilot, app, "nodisk")
        assert not SNAP_KEYS & footer_actions(app)  # not on another tab
        await pilot.press("6")
        # A VM that cannot hold snapshots says why, in the manager's words, and offers nothing.
        await wait_until(pilot, lambda: "no qcow2 disk" in (pane.error or ""), "the reason")
        assert "no qcow2 disk" in static_text(pane.query_one("#snap-status"))
        assert not SNAP_KEYS & footer_actions(app)
        await pilot.press("t")  # not silently ignored: a notification names the reason
        await wait_until(pilot, lambda: any("no qcow2 disk" in n for n in notes(app)), "why")
        assert app.screen is main_screen(app)  # and nothing else happened

        await select(pilot, app, "s")
        await wait_until(pilot, lambda: pane.snapshots == [], "an empty list")
        await wait_until(pilot, lambda: "snapshot_take" in footer_actions(app), "t offered")
        assert not {"snapshot_revert", "snapshot_delete"} & footer_actions(app)

        # t asks for a tag; a bad one is refused in place, a good one is taken (offline).
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SnapshotTagScreen), "tag dialog")
        dialog = app.screen
        await pilot.press(*"bad tag!", "enter")
        await wait_until(pilot, lambda: dialog.query_one("#tag-error").has_class("-shown"), "err")
        assert app.screen is dialog
        for _ in "bad tag!":
            await pilot.press("backspace")
        await pilot.press(*"before-upgrade", "enter")
        await wait_until(pilot, lambda: tags(app) == ["before-upgrade"], "the snapshot listed")
        assert [s["tag"] for s in list_snapshots(manager, "s")] == ["before-upgrade"]
        table = pane.table
        assert table.get_cell("before-upgrade", "state").plain == "disks only"
        await wait_until(pilot, lambda: "snapshot_delete" in footer_actions(app), "X offered")

        # X asks first: n keeps it, y deletes it.
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closed")
        assert tags(app) == ["before-upgrade"]
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: tags(app) == [], "the snapshot gone")
        assert list_snapshots(manager, "s") == []
        await pilot.press("1")
        assert not SNAP_KEYS & footer_actions(app)


async def test_online_snapshot_and_revert(make_app: MakeApp, manager: Manager) -> None:
    disk_vm(manager)
    manager.start("s")
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: status_cell(app, "s") == "running", "s running")
        await pilot.press("6")
        await wait_until(pilot, lambda: "snapshot_take" in footer_actions(app), "t offered")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SnapshotTagScreen), "tag dialog")
        await pilot.press(*"live", "enter")
        await wait_until(pilot, lambda: tags(app) == ["live"], "the live snapshot", JOB)
        snap = snapshot_pane(app).snapshots or [{}]
        assert int(snap[0]["vm_state_size"]) > 0  # RAM was saved: an online snapshot

        await pilot.press("V")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        assert "jumps back in time" in static_text(app.screen.query_one(".dialog-body"))
        # The store changes while the dialog is open (a busy host: uptime, stats, an event), so
        # the row arrives as a new dict: the answer still goes to the same VM.
        before = snapshot_pane(app).vm
        app.local_vms = {vm_id: dict(vm) for vm_id, vm in app.local_vms.items()}
        app.merge_rows()
        await wait_until(pilot, lambda: snapshot_pane(app).vm is not before, "the row renewed")
        await pilot.press("y")
        # Not `not busy`: that holds too before the confirmation's callback has started the op.
        await wait_until(
            pilot, lambda: "s reverted to snapshot live" in notes(app), "reverted", JOB
        )
        await wait_until(pilot, lambda: not snapshot_pane(app).busy, "idle again")
        await wait_until(pilot, lambda: status_cell(app, "s") == "running", "running again")


def test_tag_rules() -> None:
    assert tag_problem("", set()) == "type a tag"
    assert tag_problem("ok-1.2_x", set()) is None
    assert "only" in (tag_problem("-x", set()) or "")
    assert "exists" in (tag_problem("a", {"a"}) or "")
    assert suggest_tag(set(), 0).startswith("snap-1970")
    first = suggest_tag(set(), 0)
    assert suggest_tag({first}, 0) == f"{first}-2"
