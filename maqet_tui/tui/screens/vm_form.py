"""Add (`a`) or edit (`e`) a VM: one field per line, errors under the field they are about.

Everything checkable here (name syntax, numbers, quoting, file existence, reserved QEMU options)
is checked before anything is saved and all problems are shown at once; what only the store can
tell (a duplicate name) comes back from the save and lands under its field too.

Editing a VM on another host (`host`): its files are that host's, so nothing here looks for them
and paths must be absolute; the host checks the whole definition when it is saved there, and a
refusal about one key lands under that key's field as a local one would.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from maqet_tui.common.errors import ConfigError, MaqetError
from maqet_tui.common.sizes import memory_mib
from maqet_tui.core.config import ACCELS, MAX_CPUS, VMConfig, validate_name
from maqet_tui.tui import workers
from maqet_tui.tui.ops import error_text
from maqet_tui.tui.screens.confirm import ConfirmScreen
from maqet_tui.tui.services.threads import run_blocking

VM = dict[str, Any]
Save = Callable[[str, dict[str, Any]], VM]

# (field, label, placeholder)
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "name", "e.g. web-1 (letters, digits, . _ -)"),
    ("memory", "memory", "MiB, e.g. 256 or 1G"),
    ("cpus", "vCPUs", "e.g. 2"),
    ("kernel", "kernel", "path to a kernel image (optional)"),
    ("initrd", "initrd", "path to an initrd (needs a kernel)"),
    ("append", "append", "kernel command line (needs a kernel)"),
    ("disks", "disks", "disk image paths, space separated"),
    ("qemu_args", "qemu args", "extra QEMU arguments, e.g. -device virtio-rng-pci"),
)
PLACES = {f for f, _l, _p in FIELDS} | {"accel"}


def parse_memory(text: str) -> int:
    return memory_mib(text, "memory")


def parse_cpus(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_CPUS:
        raise ConfigError(
            f"cpus: {text!r} is not a whole number from 1 to {MAX_CPUS}", field="cpus"
        )
    return int(text)


def place_of(exc: BaseException) -> str:
    """Where an error shows: under the field it names (`exc.field`) when the form has that field,
    else at the bottom of the form."""
    field = exc.field if isinstance(exc, MaqetError) else None
    return field if field in PLACES else "form"


def _entry_path(entry: object) -> str:
    """A disk is a path or a mapping with a `file` (newer definitions)."""
    if isinstance(entry, dict):
        return str(entry.get("file") or entry.get("path") or entry)
    return str(entry)


def _split(field: str, text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{field}: {exc} (quote paths with spaces)", field=field) from None


def _check_whole(
    config: dict[str, Any], errors: dict[str, str], local: bool = True
) -> tuple[dict[str, Any], dict[str, str]]:
    """The whole-definition checks (files exist, initrd needs a kernel, reserved options...).

    `VMConfig.from_dict` stops at the first problem, so each field it blames is set aside and the
    rest checked again: every problem shows after one enter, not one more per enter.
    Not `local` (a VM on another host): files are not looked for, and the definition goes as
    typed (paths made absolute here would name this machine's directories).
    """
    probe = {k: (None if k in errors else v) for k, v in config.items()}
    for _ in range(len(PLACES) + 1):
        try:
            checked = VMConfig.from_dict(probe, check_files=local).to_dict()
        except ConfigError as exc:
            place = place_of(exc)
            # "initrd: needs a kernel" only because the kernel given was set aside: not so.
            if not (config.get("kernel") and str(exc).endswith("needs a kernel")):
                errors.setdefault(place, str(exc))
            if place == "form" or probe.get(place) is None:
                break  # nothing left to set aside: this is as far as checking can go
            probe[place] = None
        else:
            return (config if errors or not local else checked), errors
    return config, errors


class VMFormScreen(ModalScreen[VM | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, save: Save, vm: VM | None = None, host: str | None = None) -> None:
        super().__init__()
        self.save = save
        self.vm = vm
        self.host = host  # the VM's host; None: this machine
        self.saving = False
        self.pristine: dict[str, object] = {}

    @property
    def editing(self) -> bool:
        return self.vm is not None

    def _initial(self, field: str) -> str:
        if self.vm is None:
            return {"memory": "256", "cpus": "1"}.get(field, "")
        if field == "name":
            return str(self.vm["name"])
        value = (self.vm.get("config") or {}).get(field)
        if isinstance(value, list):
            return shlex.join(_entry_path(v) for v in value)
        return "" if value is None else str(value)

    def compose(self) -> ComposeResult:
        title = f"Edit {self.vm['name']}" if self.vm else "Add a VM"
        if self.host is not None:
            title += f" on {self.host} (paths are {self.host}'s)"
        with Vertical(id="form-dialog"):
            yield Static(title, classes="dialog-title")
            with VerticalScroll(id="form-body"):
                for field, label, placeholder in FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(label, classes="field-label")
                        yield Input(
                            self._initial(field),
                            placeholder=placeholder,
                            id=f"f-{field}",
                            compact=True,
                            disabled=field == "name" and self.editing,
                        )
                    yield Static("", id=f"err-{field}", classes="field-error")
                    if field == "cpus":
                        with Horizontal(classes="field"):
                            yield Label("accel", classes="field-label")
                            accel = str((self.vm or {}).get("config", {}).get("accel", "auto"))
                            yield Select(
                                [(a, a) for a in ACCELS],
                                value=accel,
                                allow_blank=False,
                                compact=True,
                                id="f-accel",
                            )
                        yield Static("", id="err-accel", classes="field-error")
            yield Static("", id="err-form", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")
            yield Static("enter saves · esc cancels · tab next field", classes="dialog-hint")

    def on_mount(self) -> None:
        first = "memory" if self.editing else "name"
        self.query_one(f"#f-{first}", Input).focus()
        self.pristine = self.snapshot()

    def snapshot(self) -> dict[str, object]:
        """What the form says now, to tell whether anything was changed."""
        values: dict[str, object] = {f: self.value(f) for f, _l, _p in FIELDS}
        values["accel"] = self.query_one("#f-accel", Select).value
        return values

    def value(self, field: str) -> str:
        return self.query_one(f"#f-{field}", Input).value.strip()

    def collect(self) -> tuple[str, dict[str, Any], dict[str, str]]:
        """(name, config, errors by field): every independent problem at once."""
        errors: dict[str, str] = {}
        # Editing keeps what the form does not show (binary, machine) from the stored definition.
        config: dict[str, Any] = dict((self.vm or {}).get("config") or {})
        config["accel"] = self.query_one("#f-accel", Select).value
        name = self.value("name")
        checks: list[tuple[str, Callable[[], Any]]] = [
            ("name", lambda: validate_name(name)),
            ("memory", lambda: parse_memory(self.value("memory"))),
            ("cpus", lambda: parse_cpus(self.value("cpus"))),
            ("disks", lambda: self._disks(_split("disks", self.value("disks")))),
            ("qemu_args", lambda: _split("qemu_args", self.value("qemu_args"))),
        ]
        for field, check in checks:
            try:
                result = check()
            except ConfigError as exc:
                errors[field] = str(exc)
            else:
                if field != "name":
                    config[field] = result
        for field in ("kernel", "initrd", "append"):
            config[field] = self.value(field) or None
        if self.host is not None:
            self._absolute(config, errors)
        return name, *_check_whole(config, errors, local=self.host is None)

    def _absolute(self, config: dict[str, Any], errors: dict[str, str]) -> None:
        """On another host a relative path has no directory to be relative to."""
        for field in ("kernel", "initrd", "disks"):
            values = config.get(field) if field == "disks" else [config.get(field)]
            for v in values if isinstance(values, list) else ():
                if isinstance(v, str) and v and not v.startswith("/"):
                    errors.setdefault(
                        field, f"{field}: {v!r} must be an absolute path on {self.host}"
                    )

    def _disks(self, paths: list[str]) -> list[Any]:
        """Disks as typed; a path that was already there keeps its stored entry (format,
        interface, media), since this one-line field can only say which files."""
        old = {_entry_path(d): d for d in ((self.vm or {}).get("config") or {}).get("disks", [])}
        return [old.get(p, p) for p in paths]

    def show_errors(self, errors: dict[str, str]) -> None:
        for widget in self.query(".field-error"):
            assert isinstance(widget, Static)
            field = (widget.id or "").removeprefix("err-")
            widget.update(errors.get(field, ""))
            widget.set_class(field in errors, "-shown")
        for field, _label, _p in FIELDS:
            if field in errors:
                self.query_one(f"#f-{field}", Input).focus()
                break

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.submit()
        else:
            self.dismiss(None)

    def submit(self) -> None:
        if self.saving:
            return
        name, config, errors = self.collect()
        self.show_errors(errors)
        if not errors:
            self.saving = True
            workers.start(
                self, partial(self._save, name, config), group="form", exit_on_error=False
            )

    async def _save(self, name: str, config: dict[str, Any]) -> None:
        try:
            vm = await run_blocking(self.save, name, config)
        except Exception as exc:
            text = error_text(exc)
            self.show_errors({place_of(exc): text})
            self.saving = False
            return
        self.dismiss(vm)

    def action_cancel(self) -> None:
        """Esc leaves at once when nothing was changed, else asks first (typing is not cheap)."""
        if self.snapshot() == self.pristine:
            self.dismiss(None)
            return

        def discard(answer: str | None) -> None:
            if answer:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen(
                "Discard changes?",
                "What was typed into this form is not saved.",
                "Discard",
            ),
            discard,
        )
