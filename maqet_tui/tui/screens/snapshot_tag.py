"""Take a snapshot: one field for its tag, checked as it is typed.

The tag is checked with the same rule the snapshot code enforces (and against the tags the VM
already has), so the dialog only closes with a tag that will be accepted. It comes pre-filled
with a dated suggestion, selected, so enter alone is enough and typing replaces it.
"""

from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from maqet_tui.core.snapshots import TAG_RE


def suggest_tag(existing: set[str], now: float | None = None) -> str:
    base = time.strftime("snap-%Y%m%d-%H%M%S", time.localtime(now))
    tag, n = base, 1
    while tag in existing:
        n += 1
        tag = f"{base}-{n}"
    return tag


def tag_problem(tag: str, existing: set[str]) -> str | None:
    if not tag:
        return "type a tag"
    if not TAG_RE.match(tag):
        return "letters, digits, '.', '_' and '-' only, starting with a letter or digit (≤ 64)"
    if tag in existing:
        return f"{tag!r} already exists"
    return None


class SnapshotTagScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, vm_name: str, live: bool, existing: set[str]) -> None:
        super().__init__()
        self.vm_name = vm_name
        self.live = live
        self.existing = existing

    def compose(self) -> ComposeResult:
        how = (
            "It is running: its RAM and disks are saved together (savevm); the guest "
            "pauses while that happens."
            if self.live
            else "It is not running: its disks are snapshotted (qemu-img)."
        )
        with Vertical(id="tag-dialog"):
            yield Static(f"Take a snapshot of {self.vm_name}", classes="dialog-title")
            yield Static(how, classes="dialog-body")
            with Horizontal(classes="field"):
                yield Static("tag", classes="field-label")
                yield Input(suggest_tag(self.existing), id="tag-input", compact=True)
            yield Static("", id="tag-error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Take snapshot", id="take", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Static("enter takes it · esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#tag-input", Input).focus()

    def _check(self) -> str | None:
        tag = self.query_one("#tag-input", Input).value.strip()
        problem = tag_problem(tag, self.existing)
        error = self.query_one("#tag-error", Static)
        error.update(problem or "")
        error.set_class(problem is not None, "-shown")
        return None if problem else tag

    @on(Input.Changed, "#tag-input")
    def _changed(self, _event: Input.Changed) -> None:
        self._check()

    @on(Input.Submitted, "#tag-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._take()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "take":
            self._take()
        else:
            self.dismiss(None)

    def _take(self) -> None:
        tag = self._check()
        if tag is not None:
            self.dismiss(tag)

    def action_cancel(self) -> None:
        self.dismiss(None)
