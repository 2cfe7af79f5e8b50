"""The Console tab: the shown VM's serial console, as a log to read and a line to type into.

Typing a line (enter sends it with a newline) is the safe default: nothing reaches the guest by
accident while moving around the app. Raw mode (`i`) is for what needs keys, not lines (ctrl+c,
arrows, tab completion, editors); it shows a banner as long as it lasts.

A VM that is not running shows why, and the end of its last run from the serial log the runner
kept: after a crash, the guest's last words (a panic) are what one wants to see.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from maqet_tui.common.errors import MaqetError
from maqet_tui.common.vmstate import LIVE
from maqet_tui.core.logfile import cut_to_line
from maqet_tui.tui import workers
from maqet_tui.tui.hostrows import ident
from maqet_tui.tui.messages import ConsoleClosed, ConsoleOpened, ConsoleOutput, ConsoleWriteFailed
from maqet_tui.tui.services.console_stream import ConsoleStream, Key
from maqet_tui.tui.services.remote_console import PREFIX
from maqet_tui.tui.services.threads import run_blocking
from maqet_tui.tui.widgets.console_log import ConsoleLog
from maqet_tui.tui.widgets.history_input import HistoryInput

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

VM = dict[str, Any]
RETRY_AFTER = 1.0
HISTORY_BYTES = 64 * 1024
PROMPT_HINT = "a line for the guest; enter sends it, ↑↓ history"


def console_key(vm: VM | None) -> Key | None:
    """Which runner's console to show: only a live runner that has a socket has one (on another
    host: reached through ssh, `ssh:HOST`)."""
    if vm is None or vm.get("status") not in LIVE:
        return None
    if vm.get("host"):
        return (str(vm["id"]), f"{PREFIX}{vm['host']}", vm.get("remote_runner_pid"))
    if not vm.get("socket_path"):
        return None
    return (str(vm["id"]), str(vm["socket_path"]), vm.get("runner_pid"))


def read_tail(path: Any) -> str:
    """The end of a serial log from a line start ("" if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - HISTORY_BYTES))
            data = f.read()
    except OSError:
        return ""
    if size > HISTORY_BYTES and b"\n" in data:
        data = data.split(b"\n", 1)[1]
    return data.decode(errors="replace")


class ConsoleInput(HistoryInput):
    """The line prompt; its own class so the help screen and styles can name it."""


class ConsolePane(Vertical):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vm: VM | None = None
        self.stream = ConsoleStream(self.post_message, self.run_worker, self._remote_argv)
        self._shown: Key | None = None  # the runner whose output the log holds

    def compose(self) -> ComposeResult:
        yield Static("", id="console-banner")
        yield Static("", id="console-status")
        yield ConsoleLog(id="console-log")
        with Horizontal(id="console-prompt"):
            yield Label("tty>", id="console-label")
            yield ConsoleInput(id="console-input", placeholder=PROMPT_HINT, compact=True)

    @property
    def log_widget(self) -> ConsoleLog:
        return self.query_one(ConsoleLog)

    @property
    def input(self) -> ConsoleInput:
        return self.query_one(ConsoleInput)

    @property
    def raw(self) -> bool:
        return self.log_widget.raw

    # -- following the selected VM -----------------------------------------------------------
    def set_vm(self, vm: VM | None) -> None:
        switched = (vm or {}).get("id") != (self.vm or {}).get("id")
        self.vm = vm
        log = self.log_widget
        if switched:
            log.raw = False
            log.reset()
            self._shown = None
            if vm is not None and vm.get("status") not in LIVE:
                workers.start(self, partial(self._last_run, vm), group="console-history")
        key = console_key(vm)
        if self.stream.follow(key) or key is None:
            log.connected = False
        self._show_status()

    def _remote_argv(self, vm_id: str) -> list[str]:
        app = cast("MaqetApp", self.app)
        vm = app.vms.get(vm_id)
        if vm is None or app.fleet is None or not vm.get("host"):
            raise MaqetError("that VM is gone from the list")
        return app.fleet.console_argv(str(vm["host"]), ident(vm))

    def _serial_tail(self, vm: VM) -> str:
        """On a worker thread: the end of the serial log, here or on the VM's host."""
        app = cast("MaqetApp", self.app)
        if vm.get("host"):
            return cut_to_line(app.remote(vm).log(ident(vm), serial=True), HISTORY_BYTES)
        return read_tail(app.require_manager().paths.serial_log(str(vm["id"])))

    async def _last_run(self, vm: VM) -> None:
        vm_id = str(vm["id"])
        try:
            text = await run_blocking(self._serial_tail, vm)
        except MaqetError:
            return
        shown = self.vm
        if text and shown is not None and shown["id"] == vm_id and console_key(shown) is None:
            self.log_widget.feed(text, answer=False)
            self.log_widget.note(f"── the end of {shown['name']}'s last run (its serial log) ──")

    def _show_status(self) -> None:
        status = self.query_one("#console-status", Static)
        vm = self.vm
        text: Text | None = None
        if vm is None:
            text = Text("No VM selected.", style="dim")
        elif vm.get("status") not in LIVE:
            text = Text(f"{vm['name']} is {vm['status']}", style="bold")
            text.append(": start it (s) to see its serial console live here.", style="")
            if vm.get("last_error"):
                text.append(f"\n{vm['last_error']}", style="red")
        elif not self.log_widget.connected:
            text = Text(f"connecting to {vm['name']}'s serial console…", style="dim")
        elif self.log_widget.empty:
            text = Text(
                f"nothing from {vm['name']}'s serial port yet (Linux needs console=ttyS0)",
                style="dim",
            )
        status.update(text or "")
        status.set_class(text is not None, "-shown")
        live = vm is not None and self.log_widget.connected
        self.input.placeholder = (
            PROMPT_HINT if live else "no console: the VM is not running" if vm else ""
        )

    # -- the stream --------------------------------------------------------------------------
    @on(ConsoleOpened)
    def _opened(self, msg: ConsoleOpened) -> None:
        self.stream.opened(msg.generation)
        if msg.generation == self.stream.generation:
            self.log_widget.connected = True
            self._show_status()

    @on(ConsoleOutput)
    def _output(self, msg: ConsoleOutput) -> None:
        if msg.generation != self.stream.generation:
            return
        log = self.log_widget
        key = self.stream.key
        if msg.replay and key == self._shown:
            log.reset()  # the same runner again (a reconnect): its replay repeats what we have
        elif key != self._shown and self._shown is not None:
            log.note("── the VM was started again ──")
        self._shown = key
        was_empty = log.empty
        log.feed(msg.text, answer=not msg.replay)
        if was_empty:
            self._show_status()

    @on(ConsoleClosed)
    def _stream_closed(self, msg: ConsoleClosed) -> None:
        if msg.generation != self.stream.generation:
            return
        self.stream.ended(msg.generation)
        log = self.log_widget
        if log.raw:
            self.app.notify(f"raw mode ended: {msg.reason}", severity="warning")
        was_connected, log.connected = log.connected, False
        if self._shown is not None and was_connected:  # a failed retry adds no second note
            log.note(f"── console closed: {msg.reason} ──")
        self._show_status()
        if self.stream.key is not None:  # still wanted (the VM looks live): try again soon
            self.set_timer(RETRY_AFTER, lambda: self._retry(msg.generation))

    def _retry(self, generation: int) -> None:
        if generation == self.stream.generation and not self.stream.connected:
            key = console_key(self.vm)
            if key is not None:
                self.stream.follow(key, again=True)
                self._show_status()

    @on(ConsoleWriteFailed)
    def _write_failed(self, msg: ConsoleWriteFailed) -> None:
        if msg.generation == self.stream.generation:
            self.app.notify(f"typing into the console failed: {msg.error}", severity="error")

    # -- typing ------------------------------------------------------------------------------
    @on(Input.Submitted, "#console-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.input.remember(event.value)
        if self._send(event.value + "\n"):
            self.input.value = ""

    @on(ConsoleLog.Typed)
    def _typed(self, event: ConsoleLog.Typed) -> None:
        event.stop()
        self._send(event.data)

    @on(ConsoleLog.Answered)
    def _answered(self, event: ConsoleLog.Answered) -> None:
        event.stop()
        self.stream.send(data=event.data)  # not connected (yet): the guest asks again

    def _send(self, data: str) -> bool:
        if self.stream.send(data):
            return True
        vm = self.vm
        why = f"{vm['name']} is {vm['status']}" if vm else "no VM is selected"
        if vm is not None and vm.get("status") in LIVE:
            why = f"{vm['name']}'s console is not connected yet"
        self.app.notify(f"nothing sent: {why}", severity="warning", timeout=4)
        return False

    @on(ConsoleLog.RawChanged)
    def _raw_changed(self, event: ConsoleLog.RawChanged) -> None:
        banner = self.query_one("#console-banner", Static)
        name = self.vm["name"] if self.vm else "the guest"
        banner.update(
            Text.assemble(
                # Short enough for an 80-column pane with a name of 16 characters (it was cut).
                (" RAW ", "bold reverse"),
                f"  keys go to {name} — ",
                ("ctrl+]", "bold"),
                " leaves · ",
                ("shift+pgup/pgdn", "bold"),
                " scrolls",
            )
        )
        banner.set_class(event.raw, "-shown")
        self.screen.refresh_bindings()
