"""Errors a user can see. Each carries one line of text; the CLI prints it as `error: ...`."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def clip(value: object, limit: int = 60) -> str:
    """`repr(value)` for an error message, never longer than about `limit` characters.

    Messages quote what the user gave; a value may be a megabyte string or a structure built from
    YAML aliases, so the quote is taken from a bounded prefix and never from the whole value.
    """
    if isinstance(value, str):
        text = repr(value[:limit])
        return text if len(value) <= limit else f"{text}... ({len(value)} characters)"
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def key_list(keys: Iterable[object]) -> str:
    """Keys a message names (unknown ones): sorted, each cut short, the first five."""
    names = sorted(_key(k) for k in keys)
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def _key(key: object) -> str:
    if not isinstance(key, str):
        return clip(key, 40)
    return key[:40] if key[:40].isprintable() else clip(key, 40)


class MaqetError(Exception):
    """Base class: the message is shown to the user as is, so it must name the VM or the bad value.

    `field` is the definition key the error is about ("memory", "disks", "name"), when it is about
    one: a form places the message under that field without reading the text.
    """

    field: str | None = None


class ConfigError(MaqetError):
    """A VM definition or a command-line value is invalid; nothing was changed."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def top_field(key: str) -> str:
    """The definition key a value's key is under: "disks[0].file" -> "disks"."""
    return key.partition("[")[0].partition(".")[0]


class NotFoundError(MaqetError):
    """No VM with that name or id."""


class StateError(MaqetError):
    """The VM is not in a state that allows the operation (e.g. QMP on a stopped VM)."""


class StartError(MaqetError):
    """QEMU or its runner failed to come up; the message carries QEMU's own words when it has them.

    `detail` is the runner's own account (what the VM's `last_error` records)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class IPCError(MaqetError):
    """The runner could not be reached or answered with an error."""

    def __init__(self, message: str, code: str = "ipc-error") -> None:
        super().__init__(message)
        self.code = code


class StoreError(MaqetError):
    """The database is unreadable, corrupt or from a newer version, or a name is taken."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TimeoutError_(MaqetError):
    """An operation did not finish within its deadline."""
