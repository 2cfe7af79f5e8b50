"""The Snapshots tab's keys: take (t), revert (V) and delete (X) the snapshot under the cursor.

They are screen keys rather than keys of the snapshot table so they work straight from the VM
list, but they exist only while the Snapshots tab is showing (check_action), which keeps `t`, `V`
and `X` free for other tabs. Revert and delete throw state away: shifted keys, and a dialog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

from maqet_tui.common.vmstate import QEMU_UP, SETTLED
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.screens.snapshot_tag import SnapshotTagScreen

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp
    from maqet_tui.tui.widgets.snapshot_pane import SnapshotPane

SNAPSHOT_TAB = "tab-snapshots"
# action → the snapshot operation it runs
SNAPSHOT_ACTIONS: dict[str, str] = {
    "snapshot_take": "create",
    "snapshot_revert": "revert",
    "snapshot_delete": "delete",
}


if TYPE_CHECKING:  # type-check the mixin as the screen it is mixed into
    _Base = Screen[None]
else:
    _Base = object


def same_vm(now: dict[str, Any] | None, asked: dict[str, Any]) -> bool:
    """Is the pane still on the VM the dialog was about? By id: every store change gives the
    row a new dict, and one arriving while the dialog was open must not drop the answer."""
    return now is not None and now.get("id") == asked.get("id")


class SnapshotActionsMixin(_Base):
    SNAPSHOT_BINDINGS: ClassVar[list[Binding]] = [
        Binding("t", "snapshot_take", "Snap", tooltip="Take a snapshot (asks a tag)"),
        Binding("V", "snapshot_revert", "Revert", key_display="V", tooltip="Revert to snapshot"),
        Binding("X", "snapshot_delete", "Del snap", key_display="X", tooltip="Delete snapshot"),
    ]
    # Tried after the keys above when they cannot apply (Textual runs the first allowed binding
    # of a key): a key that silently does nothing reads as broken, so `t` says why instead.
    SNAPSHOT_WHY_BINDINGS: ClassVar[list[Binding]] = [
        Binding("t", "snapshot_why", show=False),
    ]

    if TYPE_CHECKING:

        @property
        def maqet(self) -> MaqetApp: ...

        @property
        def snapshot_pane(self) -> SnapshotPane: ...

        @property
        def selected_id(self) -> str | None: ...

        @property
        def detail_tab(self) -> str: ...

    def snapshot_action_ok(self, action: str) -> bool:
        """Also false while the pane still shows another VM than the cursor's (a key typed right
        after j/k must never act on the VM the cursor just left)."""
        if self.detail_tab != SNAPSHOT_TAB or isinstance(self.focused, Input):
            return False
        pane = self.snapshot_pane
        if pane.vm is None or pane.vm["id"] != self.selected_id:
            return False
        return pane.can(SNAPSHOT_ACTIONS[action])

    def snapshot_refusal(self) -> str | None:
        """Why `t` cannot take a snapshot of the shown VM now, when there is a reason to give."""
        if self.detail_tab != SNAPSHOT_TAB or isinstance(self.focused, Input):
            return None
        pane = self.snapshot_pane
        vm = pane.vm
        if vm is None or vm["id"] != self.selected_id or self.snapshot_action_ok("snapshot_take"):
            return None
        if pane.error:
            return f"cannot snapshot {vm['name']}: {pane.error}"
        if pane.busy:
            return f"wait: {pane.busy}"
        if vm.get("status") not in SETTLED:
            return f"cannot snapshot {vm['name']} while it is {vm.get('status')}"
        return None

    def action_snapshot_why(self) -> None:
        reason = self.snapshot_refusal()
        if reason is not None:
            self.maqet.notify(reason, severity="warning", timeout=8)

    def action_snapshot_take(self) -> None:
        pane = self.snapshot_pane
        vm = pane.vm
        if vm is None or not self.snapshot_action_ok("snapshot_take"):
            return
        existing = {str(s["tag"]) for s in pane.snapshots or []}
        live = vm.get("status") in QEMU_UP

        def done(tag: str | None) -> None:
            if tag is not None and same_vm(pane.vm, vm):
                pane.run_op("create", tag)

        self.maqet.push_screen(SnapshotTagScreen(str(vm["name"]), live, existing), done)

    def _confirm_snapshot(self, action: str, title: str, body: str, label: str) -> None:
        pane = self.snapshot_pane
        vm, tag = pane.vm, pane.selected_tag
        if vm is None or tag is None or not self.snapshot_action_ok(f"snapshot_{action}"):
            return

        def done(result: str | None) -> None:
            if result is not None and same_vm(pane.vm, vm):
                pane.run_op(action, tag)

        name = vm["name"]
        self.maqet.push_screen(
            ConfirmScreen(title.format(tag=tag, name=name), body.format(name=name), label), done
        )

    def action_snapshot_revert(self) -> None:
        pane = self.snapshot_pane
        vm, snap = pane.vm or {}, pane.selected or {}
        live = vm.get("status") in QEMU_UP
        ok = self.snapshot_action_ok("snapshot_revert")
        if ok and live and snap and not snap.get("vm_state_size"):
            # QEMU's loadvm refuses a disk-only snapshot, and leaves the guest paused.
            self.maqet.notify(
                f"{snap['tag']} holds disks only (taken while {vm['name']} was stopped): "
                f"stop {vm['name']} to revert to it",
                severity="warning",
                timeout=8,
            )
            return
        if live:
            body = (
                "{name} goes back to how it was when the snapshot was taken (RAM too: the guest "
                "jumps back in time); every change since is lost."
            )
        else:
            # Offline, only the disks change: a saved RAM state is not loaded by a later start.
            body = (
                "The disks of {name} go back to how they were when the snapshot was taken; every "
                "disk change since is lost."
            )
            if snap.get("vm_state_size"):
                body += " The RAM it saved is not used: the next start boots from those disks."
        self._confirm_snapshot("revert", "Revert {name} to snapshot {tag}?", body, "Revert")

    def action_snapshot_delete(self) -> None:
        self._confirm_snapshot(
            "delete",
            "Delete snapshot {tag} of {name}?",
            "The snapshot's data is freed; the state {name} is in now is not touched.",
            "Delete",
        )
