"""Errors a user can see. Each carries one line of text; the CLI prints it as `error: ...`."""

from __future__ import annotations


class MaqetError(Exception):
    """Base class: the message is shown to the user as is, so it must name the VM or the bad value."""


class ConfigError(MaqetError):
    """A VM definition or a command-line value is invalid; nothing was changed."""


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
    """The database is unreadable, corrupt or from a newer version."""


class TimeoutError_(MaqetError):
    """An operation did not finish within its deadline."""
