"""`N`: make the demo VM (a real Linux guest), with the build's progress, then offer to boot it.

From a cold cache the guest is built from downloaded Debian packages (tens of seconds), from a
warm one it is instant; either way the dialog ends on one obvious next step, booting it with its
console in view, because watching Linux come up is the point of a demo.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Static

from maqet_tui.common.vmstate import LIVE, Status
from maqet_tui.tui.messages import DemoFinished, DemoProgress

START = "start"
ABOUT = (
    "A Debian kernel and a busybox initramfs, built once into the guest cache, then defined "
    "as the VM 'demo' (128 MiB, TCG). It boots in about 5 s; its shell is on the serial console."
)


class DemoScreen(ModalScreen[str | None]):
    """Dismisses with "start" when the user wants the new VM booted, else None."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, last: DemoProgress, result: DemoFinished | None = None) -> None:
        super().__init__()
        self._last = last
        self._result = result
        self.finished = False

    def compose(self) -> ComposeResult:
        with Vertical(id="demo-dialog"):
            yield Static("The demo VM", classes="dialog-title")
            yield Static(ABOUT, classes="dialog-body")
            yield Static("", id="demo-step")
            yield ProgressBar(total=None, show_eta=False, id="demo-progress")
            with Horizontal(classes="buttons"):
                yield Button("Start it and watch the console", id="start", variant="primary")
                yield Button("Hide", id="close")
            yield Static("esc hides this; the build goes on", id="demo-hint", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#start", Button).display = False
        self.show_progress(self._last)
        if self._result is not None:
            self.finish(self._result)

    def show_progress(self, msg: DemoProgress) -> None:
        if self.finished:
            return
        self.query_one("#demo-step", Static).update(Text(msg.step))
        bar = self.query_one(ProgressBar)
        if msg.fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=max(0.0, min(1.0, msg.fraction)) * 100)

    def finish(self, msg: DemoFinished) -> None:
        self.finished = True
        step = self.query_one("#demo-step", Static)
        close = self.query_one("#close", Button)
        close.label = "Close"
        self.query_one("#demo-hint", Static).update("")
        if msg.error is not None or msg.vm is None:
            step.update(Text(f"✗ {msg.error}", style="bold red"))
            close.focus()
            return
        self.query_one(ProgressBar).update(total=100, progress=100)
        vm = msg.vm
        live = vm.get("status") in LIVE - {Status.STOPPING}
        how = "is defined" if msg.created else "already existed"
        step.update(Text(f"✓ {vm['name']} {how}" + (f" ({vm['status']})" if live else "")))
        start = self.query_one("#start", Button)
        start.label = "Watch its console" if live else "Start it and watch the console"
        start.display = True
        start.focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(START if event.button.id == "start" else None)

    def action_close(self) -> None:
        self.dismiss(None)
