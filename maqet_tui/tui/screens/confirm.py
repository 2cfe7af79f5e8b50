"""A yes/no dialog for destructive actions (stop, force stop, reset, delete).

Destructive keys are already shifted (S, F, R, D, as nEMU settled on after its #192); the dialog is
the second step. Focus starts on Cancel so a stray Enter never confirms; `y` is the deliberate yes.
Moving between the buttons stops at either end: a → (or tab) too many from Cancel must not come
round to the destructive button.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[str | None]):
    """Dismisses with `value` when confirmed, None when cancelled."""

    BINDINGS = [
        Binding("y", "confirm", "Yes"),
        Binding("n,escape", "cancel", "No"),
        Binding("left,shift+tab", "step(-1)", "Previous button", show=False),
        Binding("right,tab", "step(1)", "Next button", show=False),
    ]

    def __init__(self, title: str, body: str, confirm_label: str, value: str = "yes") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="confirm"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm", variant="error")
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def action_step(self, step: int) -> None:
        """Focus the neighbouring button, without wrapping round at either end."""
        buttons = list(self.query(Button))
        here = buttons.index(self.focused) if self.focused in buttons else len(buttons) - 1
        buttons[max(0, min(len(buttons) - 1, here + step))].focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.value if event.button.id == "confirm" else None)

    def action_confirm(self) -> None:
        self.dismiss(self.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
