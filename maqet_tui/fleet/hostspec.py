"""What a host definition may hold, checked before anything is stored or handed to ssh.

The destination and the options go into ssh's argv as separate words (never a shell string), so
the dangers are ssh's own: a destination starting with '-' would be read as an option, and an
option key outside ssh's alphabet could smuggle something else. The remote command is the other
end: sshd hands it to the remote user's shell as one string, so every word is quoted with
shlex.quote before it is joined (see remote_command).
"""

from __future__ import annotations

import re
import shlex
from typing import NamedTuple

from maqet_tui.common.errors import ConfigError, clip
from maqet_tui.common.ids import NAME_RE, NAME_RULE, looks_like_id

LOCAL = "local"
"""The reserved name of this machine in `ls --all-hosts` and in JSON rows."""
DEFAULT_COMMAND = ("maqet-tui",)
_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_MAX = 1024


class HostSpec(NamedTuple):
    """A NamedTuple, not a dataclass: importing dataclasses costs every --host command ~5 ms."""

    name: str
    destination: str
    command: tuple[str, ...] = DEFAULT_COMMAND
    ssh_options: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How errors name the host: `'lab2' (user@x)`."""
        return f"{self.name!r} ({self.destination})"


def _no_control(what: str, value: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"{what} {clip(value)} contains a control character")


def validate_host_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"invalid host name {clip(name)}: use {NAME_RULE}",
            field="name",
        )
    if looks_like_id(name):
        raise ConfigError(f"invalid host name {name!r}: 8 hex digits is the form of a VM id")
    if name == LOCAL:
        raise ConfigError(f"invalid host name {name!r}: it is reserved for this machine")
    return name


def validate_destination(dest: str) -> str:
    if not dest or len(dest) > _MAX:
        raise ConfigError(f"invalid destination {clip(dest)}: must be 1 to {_MAX} characters")
    if dest.startswith("-"):
        raise ConfigError(f"invalid destination {clip(dest)}: must not start with '-'")
    if any(c.isspace() for c in dest):
        raise ConfigError(f"invalid destination {clip(dest)}: must not contain spaces")
    _no_control("destination", dest)
    return dest


def validate_ssh_option(option: str) -> str:
    """`KEY=VALUE`, as `ssh -o` takes it; KEY in ssh's own alphabet (letters, digits)."""
    key, eq, value = option.partition("=")
    if not eq or not _KEY_RE.fullmatch(key):
        raise ConfigError(
            f"invalid ssh option {clip(option)}: use KEY=VALUE with KEY made of letters and "
            "digits (e.g. Port=2222)"
        )
    if not value.strip() or len(option) > _MAX:
        raise ConfigError(f"invalid ssh option {clip(option)}: the value is empty or too long")
    _no_control("ssh option", option)
    return option


def split_command(command: str | None) -> tuple[str, ...]:
    """--command as an argv (shlex rules); None gives the default `maqet-tui`."""
    if command is None:
        return DEFAULT_COMMAND
    try:
        words = tuple(shlex.split(command))
    except ValueError as exc:
        raise ConfigError(f"invalid --command {clip(command)}: {exc}") from None
    if not words:
        raise ConfigError("invalid --command: it is empty")
    for w in words:
        _no_control("--command word", w)
    return words


def make_spec(
    name: str, destination: str, command: str | None, ssh_options: list[str] | None
) -> HostSpec:
    return HostSpec(
        validate_host_name(name),
        validate_destination(destination),
        split_command(command),
        tuple(validate_ssh_option(o) for o in ssh_options or ()),
    )


def remote_command(spec: HostSpec, *args: str) -> str:
    """The string sshd gives the remote shell: every word quoted, so `args` reach maqet-tui
    there exactly as given here (a VM name with a space or a `$` stays one literal word)."""
    return " ".join(shlex.quote(w) for w in (*spec.command, *args))
