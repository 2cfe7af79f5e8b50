"""A VM's port forwards (`f`): the list, one field to add `PROTO:HOSTPORT:GUESTPORT`, `d` removes.

On a running VM each change goes to QEMU at once (`hostfwd_add`/`hostfwd_remove`) and into the
definition; on a stopped one only the definition changes. Either way the work is the same
`core.forwards` code the `forward` commands run, on a worker thread, and a refusal (a port in use,
a duplicate, a bad spec) is shown in the dialog, which stays open with nothing changed.

A VM on another host is changed through its host (`forward ls|add|rm` run by its agent, the
same code over there); its forwards listen on that host's 127.0.0.1, not on this machine's, and
the dialog says so, in its title, a line under it and each row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from maqet_tui.core import forwards as core_forwards
from maqet_tui.tui.services.threads import run_blocking

if TYPE_CHECKING:
    from maqet_tui.core.manager import Manager

HINT = "enter adds · d removes the selected one · esc closes"


class Forwards(Protocol):
    """What the dialog needs of a backend: this machine's (LocalForwards) or a host's
    (fleet.remote_vms.RemoteVMs). Each call blocks; the dialog makes them on worker threads."""

    def list_forwards(self, ident: str) -> list[dict[str, Any]]: ...

    def add_forward(self, ident: str, spec: str) -> object: ...

    def remove_forward(self, ident: str, key: str) -> object: ...


class LocalForwards:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def list_forwards(self, ident: str) -> list[dict[str, Any]]:
        return core_forwards.list_forwards(self.manager, ident)

    def add_forward(self, ident: str, spec: str) -> object:
        return core_forwards.add_forward(self.manager, ident, spec)

    def remove_forward(self, ident: str, key: str) -> object:
        return core_forwards.remove_forward(self.manager, ident, key)


def where_line(host: str) -> str:
    return (
        f"On host {host}: these listen on {host}'s 127.0.0.1, not on this machine "
        f"(reach them from {host}, or through ssh -L)"
    )


class ForwardsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("d,delete", "remove", "Remove forward", show=False),
    ]

    def __init__(
        self, backend: Forwards, vm_id: str, vm_name: str, host: str | None = None
    ) -> None:
        super().__init__()
        self.backend = backend
        self.vm_id = vm_id  # as the backend knows it (on its own host)
        self.vm_name = vm_name
        self.host = host  # None: this machine
        self.forwards: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="fwd-dialog"):
            title = f"Port forwards of {self.vm_name}"
            if self.host is not None:
                title += f" on {self.host}"
            yield Static(title, classes="dialog-title")
            if self.host is not None:
                yield Static(where_line(self.host), id="fwd-where", classes="dialog-body")
            yield DataTable(id="fwd-table", cursor_type="row", show_cursor=True)
            with Horizontal(classes="field"):
                yield Static("add", classes="field-label")
                yield Input(placeholder="tcp:8080:80", id="fwd-input", compact=True)
            yield Static("", id="fwd-error", classes="field-error")
            yield Static(HINT, classes="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one("#fwd-table", DataTable)
        listens = "HOST" if self.host is None else "LISTENS ON"
        for label, key in (("PROTO", "PROTO"), (listens, "HOST"), ("GUEST PORT", "GUEST PORT")):
            table.add_column(label, key=key)
        self.query_one("#fwd-input", Input).focus()
        self.reload()

    def say(self, problem: str | None) -> None:
        error = self.query_one("#fwd-error", Static)
        error.update(problem or "")
        error.set_class(problem is not None, "-shown")

    @work(group="fwd", exclusive=True)
    async def reload(self) -> None:
        try:
            forwards = await run_blocking(self.backend.list_forwards, self.vm_id)
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
            if self.host is not None:
                host += f" on {self.host}"
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
            self.change(self.backend.add_forward, spec, clear=True)

    def action_remove(self) -> None:
        table = self.query_one("#fwd-table", DataTable)
        if not self.forwards or not 0 <= table.cursor_row < len(self.forwards):
            self.say("no forward selected (tab to the list, then d)")
            return
        f = self.forwards[table.cursor_row]
        self.change(self.backend.remove_forward, f"{f['proto']}:{f['host_port']}")

    @work(group="fwd-change", exclusive=True)
    async def change(self, op: Any, spec: str, clear: bool = False) -> None:
        try:
            await run_blocking(op, self.vm_id, spec)
        except Exception as exc:  # a refusal: said here, nothing changed
            self.say(str(exc))
            return
        self.say(None)
        if clear:
            self.query_one("#fwd-input", Input).value = ""
        self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
