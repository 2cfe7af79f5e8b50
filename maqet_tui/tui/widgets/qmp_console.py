"""The QMP tab: type a command (JSON arguments after its name), read the pretty answer.

History with up/down (kept per home across restarts) and tab completion of command names (from
the VM's own `query-commands`, so only what this QEMU supports is offered). Errors, ours or
QEMU's, are lines in the transcript, never a crash. The commands that S, F and R ask about ask
here too. A `── name ──` line marks where the transcript moves on to another VM; browsing the
list writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from rich.json import JSON
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Label, RichLog

from maqet_tui.common.paths import Paths
from maqet_tui.common.vmstate import LIVE, QEMU_UP
from maqet_tui.tui import workers
from maqet_tui.tui.hostrows import ident
from maqet_tui.tui.ops import error_text
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.services.threads import run_blocking
from maqet_tui.tui.widgets.history_input import HistoryInput

if TYPE_CHECKING:
    from maqet_tui.tui.app import MaqetApp

VM = dict[str, Any]
QMP_TIMEOUT = 30.0

# Commands that end or reboot the guest: (dialog title, body, button), as their keys ask.
ASK: dict[str, tuple[str, str, str]] = {
    "quit": (
        "Quit QEMU of {name}?",
        "QEMU quits at once, like pulling the plug: unsaved guest data is lost.",
        "Quit",
    ),
    "system_powerdown": (
        "Power down {name}?",
        "Asks the guest to power down (ACPI); it shuts down and QEMU exits.",
        "Power down",
    ),
    "system_reset": (
        "Reset {name}?",
        "A hard reset, like the reset button: the guest reboots without shutting down.",
        "Reset",
    ),
}


def parse_command(text: str) -> tuple[str, dict[str, Any] | None]:
    """`query-status` or `human-monitor-command {"command-line": "info cpus"}`; ValueError if bad."""
    name, _, rest = text.strip().partition(" ")
    if not name:
        raise ValueError("type a QMP command name, e.g. query-status")
    rest = rest.strip()
    if not rest:
        return name, None
    try:
        args = json.loads(rest)
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(args, dict):
        raise ValueError('arguments must be a JSON object, e.g. {"id": "x"}')
    return name, args


def _common_prefix(words: list[str]) -> str:
    first, last = min(words), max(words)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def complete(commands: list[str], value: str) -> tuple[str, list[str]]:
    """(what tab turns `value` into, the candidates): the unique name plus a space, else the
    longest common prefix of every match."""
    found = [c for c in commands if c.startswith(value)]
    if len(found) == 1:
        return found[0] + " ", found
    if found:
        return _common_prefix(found), found
    return value, found


class CommandSuggester(Suggester):
    """Shows, greyed, exactly what tab would complete to (so the hint never promises more)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.commands: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        if not value or " " in value:
            return None
        completed, _found = complete(self.commands, value)
        return completed.rstrip() if len(completed.rstrip()) > len(value) else None


class QMPInput(HistoryInput):
    BINDINGS = [Binding("tab", "complete", "Complete command", show=False)]

    def __init__(self, **kwargs: Any) -> None:
        self.completer = CommandSuggester()
        super().__init__(suggester=self.completer, **kwargs)

    def action_complete(self) -> None:
        """Complete a unique name; extend to the common prefix; list the candidates otherwise.

        With nothing to complete, tab does what it does everywhere else: move focus on.
        """
        value = self.value
        if not value or " " in value:
            self.screen.focus_next()
            return
        completed, found = complete(self.completer.commands, value)
        if completed != value:
            self.value = completed
        elif len(found) > 1:
            self.post_message(QMPConsole.Candidates(found))
        self.cursor_position = len(self.value)


class QMPConsole(Vertical):
    @dataclass
    class Candidates(Message):
        """Tab found several commands for what was typed: show them."""

        names: list[str]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vm: VM | None = None
        self._commands_for: tuple[str, Any] | None = None
        self._transcript_vm: str | None = None  # the VM the last transcript lines are about

    def compose(self) -> ComposeResult:
        yield RichLog(id="qmp-log", wrap=True, min_width=1, markup=False, max_lines=5000)
        with Horizontal(id="qmp-prompt"):
            yield Label("qmp>", id="qmp-label")
            yield QMPInput(
                id="qmp-input", placeholder="QMP command, e.g. query-status", compact=True
            )

    def on_mount(self) -> None:
        app = cast("MaqetApp", self.app)
        self.input.keep_history_in(Paths.resolve(app.home).qmp_history)

    @property
    def log_widget(self) -> RichLog:
        return self.query_one("#qmp-log", RichLog)

    @property
    def input(self) -> QMPInput:
        return self.query_one("#qmp-input", QMPInput)

    def set_vm(self, vm: VM | None) -> None:
        """Follow the selected VM; fetch its command list once per runner."""
        self.vm = vm
        live = vm is not None and vm.get("status") in QEMU_UP
        self.input.placeholder = (
            "QMP command, e.g. query-status  (tab completes, ↑↓ history)"
            if live
            else f"{vm['name']} is {vm['status']}; start it to use QMP"
            if vm is not None
            else "no VM selected"
        )
        if vm is None or not live:
            return
        key = (str(vm["id"]), vm.get("runner_pid") or vm.get("remote_runner_pid"))
        if key != self._commands_for:
            self._commands_for = key
            workers.start(
                self,
                partial(self._fetch_commands, vm),
                group="qmp-cmds",
                exclusive=True,
                exit_on_error=False,
            )

    async def _fetch_commands(self, vm: VM) -> None:
        app = cast("MaqetApp", self.app)
        try:
            result = await run_blocking(lambda: app.backend(vm).qmp(ident(vm), "query-commands"))
        except Exception:
            self._commands_for = None  # try again next time the VM is shown
            return
        names = sorted(str(c.get("name")) for c in result if isinstance(c, dict))
        self.input.completer.commands = names

    def write(self, content: Any, vm: VM | None = None) -> None:
        """A transcript line about `vm` (the shown one if not given), after a `── name ──` line
        when the transcript was about another VM until now."""
        vm = vm if vm is not None else self.vm
        if vm is not None and vm["id"] != self._transcript_vm:
            self._transcript_vm = vm["id"]
            self.log_widget.write(Text(f"── {vm['name']} ──", style="bold cyan"))
        self.log_widget.write(content)

    @on(Candidates)
    def _show_candidates(self, event: QMPConsole.Candidates) -> None:
        self.write(Text("  ".join(event.names), style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        self.input.remember(text)
        self.input.value = ""
        self.write(Text(f"> {text}", style="bold"))
        try:
            command, args = parse_command(text)
        except ValueError as exc:
            self.write(Text(f"✗ {exc}", style="red"))
            return
        vm = self.vm
        if vm is None:
            self.write(Text("✗ no VM selected", style="red"))
            return
        if vm.get("status") not in LIVE:
            self.write(Text(f"✗ {vm['name']} is {vm['status']}; start it first", style="red"))
            return
        if command not in ASK:
            self._run(vm, command, args)
            return
        title, body, label = ASK[command]

        def answered(answer: str | None) -> None:
            if answer is None:
                self.write(Text("✗ not sent", style="dim"), vm)
            else:
                self._run(vm, command, args)

        self.app.push_screen(ConfirmScreen(title.format(name=vm["name"]), body, label), answered)

    def _run(self, vm: VM, command: str, args: dict[str, Any] | None) -> None:
        workers.start(
            self, partial(self._execute, vm, command, args), group="qmp", exit_on_error=False
        )

    async def _execute(self, vm: VM, command: str, args: dict[str, Any] | None) -> None:
        app = cast("MaqetApp", self.app)
        try:
            result = await run_blocking(
                lambda: app.backend(vm).qmp(ident(vm), command, args, QMP_TIMEOUT)
            )
        except Exception as exc:
            self.write(Text(f"✗ {error_text(exc)}", style="bold red"), vm)
            return
        self.write(render_result(result), vm)


def render_result(result: Any) -> Any:
    """A JSON answer pretty-printed; a string answer (`human-monitor-command`'s output) as the
    text it is, its newlines as lines."""
    if isinstance(result, str):
        text = result.replace("\r\n", "\n").rstrip()
        return Text(text, style="") if text else Text("(no output)", style="dim")
    return JSON.from_data(result, indent=2)
