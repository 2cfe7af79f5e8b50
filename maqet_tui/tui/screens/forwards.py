"""A VM's port forwards (`f`): the list, one field to add `PROTO:HOSTPORT:GUESTPORT`, `d` removes.

On a running VM each change goes to QEMU at once (`hostfwd_add`/`hostfwd_remove`) and into the
definition; on a stopped one only the definition changes. Either way the work is the same
`core.forwards` code the `forward` commands run, on a worker thread, and a refusal (a port in use,
a duplicate, a bad spec) is shown in the dialog, which stays open with nothing changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from maqet_tui.core.forwards import add_forward, list_forwards, remove_forward
from maqet_tui.tui.services.threads import run_blocking

if TYPE_CHECKING:
    from maqet_tui.core.manager import Manager

HINT = "enter adds · d removes the selected one · esc closes"


class ForwardsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("d,delete", "remove", "Remove forward", show=False),
    ]

    def __init__(self, manager: Manager, vm_id: str, vm_name: str) -> None:
        super().__init__()
        self.manager = manager
        self.vm_id = vm_id
        self.vm_name = vm_name
        self.forwards: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="fwd-dialog"):
            yield Static(f"Port forwards of {self.vm_name}", classes="dialog-title")
            yield DataTable(id="fwd-table", cursor_type="row", show_cursor=True)
            with Horizontal(classes="field"):
                yield Static("add", classes="field-label")
                yield Input(placeholder="tcp:8080:80", id="fwd-input", compact=True)
            yield Static("", id="fwd-error", classes="field-error")
            yield Static(HINT, classes="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one("#fwd-table", DataTable)
        for label in ("PROTO", "HOST", "GUEST PORT"):
            table.add_column(label, key=label)
        self.query_one("#fwd-input", Input).focus()
        self.reload()

    def say(self, problem: str | None) -> None:
        error = self.query_one("#fwd-error", Static)
        error.update(problem or "")
        error.set_class(problem is not None, "-shown")

    @work(group="fwd", exclusive=True)
    async def reload(self) -> None:
        try:
            forwards = await run_blocking(list_forwards, self.manager, self.vm_id)
        except Exception as exc:
            self.say(str(exc))
            return
        self.show(forwards)

    def show(self, forwards: list[dict[str, Any]]) -> None:
        self.forwards = forwards
        table = self.query_one("#fwd-table", DataTable)
        table.clear()
        for f in forwards:
            host = f"{f['host_addr']}:{f['host_port']}"
            table.add_row(
                f["proto"], host, str(f["guest_port"]), key=f"{f['proto']}:{f['host_port']}"
            )
        if not forwards:
            table.add_row("-", "no forwards", "-", key="none")

    @on(Input.Submitted, "#fwd-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        spec = event.value.strip()
        if spec:
            self.change(add_forward, spec, clear=True)

    def action_remove(self) -> None:
        table = self.query_one("#fwd-table", DataTable)
        if not self.forwards or not 0 <= table.cursor_row < len(self.forwards):
            self.say("no forward selected (tab to the list, then d)")
            return
        f = self.forwards[table.cursor_row]
        self.change(remove_forward, f"{f['proto']}:{f['host_port']}")

    @work(group="fwd-change", exclusive=True)
    async def change(self, op: Any, spec: str, clear: bool = False) -> None:
        try:
            await run_blocking(op, self.manager, self.vm_id, spec)
        except Exception as exc:  # a refusal: said here, nothing changed
            self.say(str(exc))
            return
        self.say(None)
        if clear:
            self.query_one("#fwd-input", Input).value = ""
        self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
