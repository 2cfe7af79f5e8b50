"""The lifecycle keys of the main screen: which VMs an action targets, confirmations, dispatch.

Destructive actions sit on shifted keys (S, F, R, D) and ask first; start and stop apply to the
marked VMs when any are marked, otherwise to the selected one. Everything lands in `Ops`, which
runs it off the UI thread.

Marks outlive the filter: a bulk action reaches every marked VM, shown or not. A lab engineer
marks web-1..web-5, filters for db to mark db-1, presses `s` and means all six; acting on the
shown ones only would silently drop marks the filter hides. Because that is easy to forget, the
action says so as it starts: "start: 6 marked VMs (5 hidden by the filter)".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding

from maqet_tui.common.errors import ConfigError, MaqetError
from maqet_tui.common.vmstate import QEMU_UP
from maqet_tui.fleet.client import RemoteError
from maqet_tui.protocol import wire
from maqet_tui.tui import hostrows
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.screens.vm_form import VMFormScreen
from maqet_tui.tui.vmview import ALLOWED, allowed, natural_key

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp
    from maqet_tui.tui.widgets.vm_table import VMTable

VM = dict[str, Any]
BULK = frozenset({"start", "stop", "force_stop"})


def remote_refusal(host: str, name: str, exc: RemoteError) -> MaqetError:
    """What the edit form says when the host refused: under the field it names; a host whose
    maqet-tui predates the agent's `set` (protocol 1.3) gets the command that does it there."""
    if exc.code == wire.UNKNOWN_METHOD:
        return MaqetError(
            f"{host}'s maqet-tui is too old to edit from here (agent protocol below 1.3); "
            f"run: maqet-tui --host {host} set {name} KEY=VALUE"
        )
    return ConfigError(f"{host}: {exc.detail}", field=exc.field)


def _names(vms: list[VM]) -> str:
    names = [str(vm["name"]) for vm in vms]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


class VMActionsMixin:
    ACTION_BINDINGS: ClassVar[list[Binding]] = [
        Binding("s", "start", "Start"),
        Binding("S", "stop", "Stop", key_display="S"),
        Binding("F", "force_stop", "Force", key_display="F", tooltip="Force stop (QEMU quits)"),
        Binding("p", "pause", "Pause"),
        Binding("r", "resume", "Resume"),
        Binding("R", "reset", "Reset", key_display="R"),
        Binding("D", "delete", "Delete", key_display="D"),
        Binding("e", "edit", "Edit"),
        # `e` where editing cannot apply: says why instead of doing nothing (not in the footer).
        Binding("e", "edit_refused", "", show=False),
        Binding("a", "add", "Add", key_display="a", tooltip="Add a VM"),
    ]
    VM_ACTIONS: ClassVar[frozenset[str]] = frozenset(ALLOWED)
    # Hidden fallbacks: allowed exactly when their action is not.
    REFUSALS: ClassVar[dict[str, str]] = {"edit_refused": "edit"}

    # Provided by the screen this is mixed into.
    marks: set[str]
    want_select: str | None

    if TYPE_CHECKING:

        @property
        def selected_id(self) -> str | None: ...

        @property
        def maqet(self) -> MaqetApp: ...

        @property
        def table(self) -> VMTable: ...

        def clear_filter(self) -> None: ...

    def targets(self, action: str) -> list[VM]:
        vms = self.maqet.vms
        if action in BULK and self.marks:  # all marks, the filter notwithstanding (see above)
            return sorted((vms[i] for i in self.marks if i in vms), key=natural_key)
        vm = vms.get(self.selected_id) if self.selected_id else None
        return [vm] if vm is not None else []

    def applicable(self, action: str) -> list[VM]:
        return [vm for vm in self.targets(action) if allowed(action, vm.get("status"))]

    def run_vm_action(self, vm_id: str, action: str) -> None:
        """From the command palette: act on one named VM, whatever is selected or marked."""
        self.marks.clear()
        if not self.table.select_id(vm_id):
            self.clear_filter()  # it may be filtered out of the table
            self.table.select_id(vm_id)
        if self.selected_id == vm_id:  # never act on another VM than the one named
            getattr(self, f"action_{action}")()

    def _confirm(self, title: str, body: str, label: str, then: Any, value: str = "yes") -> None:
        def done(result: str | None) -> None:
            if result is not None:
                then(result)

        self.maqet.push_screen(ConfirmScreen(title, body, label, value), done)

    def _after_bulk(self, action: str, vms: list[VM]) -> None:
        """Marks are used up by the action; say what it reaches, hidden marks included."""
        if action in BULK and self.marks:
            marked = len(self.marks)
            hidden = sum(1 for vm in vms if vm["id"] not in self.table.ids)
            line = f"{action.replace('_', ' ')}: {len(vms)}"
            line += f" of {marked} marked VMs" if len(vms) < marked else " marked VMs"
            if hidden:
                line += f" ({hidden} hidden by the filter)"
            self.maqet.notify(line, timeout=4)
            self.marks.clear()
            self.maqet.refresh_main()

    def action_start(self) -> None:
        vms = self.applicable("start")
        self._after_bulk("start", vms)
        self.maqet.ops.start(vms)

    def action_stop(self) -> None:
        vms = self.applicable("stop")
        if vms:
            self._confirm(
                f"Stop {_names(vms)}?",
                "Asks the guest to power down (ACPI). A guest that has not gone in 30 s is "
                "told to quit, then killed.",
                "Stop",
                lambda _r: self._stop(vms, force=False),
            )

    def action_force_stop(self) -> None:
        vms = self.applicable("force_stop")
        if vms:
            self._confirm(
                f"Force stop {_names(vms)}?",
                "QEMU quits at once, like pulling the plug: unsaved guest data is lost.",
                "Force stop",
                lambda _r: self._stop(vms, force=True),
            )

    def _stop(self, vms: list[VM], force: bool) -> None:
        self._after_bulk("force_stop" if force else "stop", vms)
        self.maqet.ops.stop(vms, force=force)

    def action_pause(self) -> None:
        self.maqet.ops.pause(self.applicable("pause"))

    def action_resume(self) -> None:
        self.maqet.ops.resume(self.applicable("resume"))

    def action_reset(self) -> None:
        vms = self.applicable("reset")
        if vms:
            self._confirm(
                f"Reset {_names(vms)}?",
                "A hard reset, like the reset button: the guest reboots without shutting down.",
                "Reset",
                lambda _r: self.maqet.ops.reset(vms),
            )

    def action_delete(self) -> None:
        vms = self.applicable("delete")
        if not vms:
            return
        vm = vms[0]
        live = vm.get("status") in QEMU_UP
        body = f"The definition of {vm['name']} and its logs are removed; disk images are kept."
        if live:
            body = f"{vm['name']} is {vm['status']}: it will be force-stopped first. " + body
        self._confirm(
            f"Delete {vm['name']}?",
            body,
            "Stop and delete" if live else "Delete",
            lambda r: self.maqet.ops.delete([vm], force=r == "force"),
            value="force" if live else "yes",
        )

    def action_add(self) -> None:
        def save(name: str, config: dict[str, Any]) -> VM:
            return self.maqet.require_manager().add(name, config)

        self.maqet.push_screen(VMFormScreen(save), self._form_done)

    def action_edit(self) -> None:
        vms = self.applicable("edit")
        if not vms:
            return
        vm, host = vms[0], hostrows.host_of(vms[0])
        try:
            backend = self.maqet.backend(vm)
        except MaqetError as exc:  # its host was removed a moment ago
            self.maqet.notify(str(exc), severity="warning")
            return
        ident = hostrows.ident(vm)

        def save(_name: str, config: dict[str, Any]) -> VM:
            try:
                saved = backend.set_config(ident, config)
            except RemoteError as exc:
                raise remote_refusal(str(host), str(vm["name"]), exc) from None
            return saved if host is None else hostrows.remote_row(host, saved)

        self.maqet.push_screen(VMFormScreen(save, vm, host=host), self._form_done)

    def action_edit_refused(self) -> None:
        vm = self.maqet.vms.get(self.selected_id or "")
        if vm is not None and vm.get("status") == hostrows.UNKNOWN:
            self.maqet.notify(f"{vm['name']}: its host {vm.get('host')} is out of reach", timeout=4)
        elif vm is not None:
            self.maqet.notify(f"{vm['name']} is {vm.get('status')}: stop it to edit", timeout=4)

    def _form_done(self, vm: VM | None) -> None:
        if vm is not None:
            self.want_select = str(vm["id"])  # selected as soon as its row is in
            self.maqet.notify(f"saved {vm['name']}")
            self.maqet.refresh_main()
            self.maqet.poke_store()
