"""Sizes as people write them: "512", "512M", "1G", "1.5G", "2048K", "1T".

One grammar for every size maqet-tui reads: a number, whole or with a decimal fraction, and an
optional binary unit K, M, G or T (powers of 1024; "MB", "MiB", "gib" are the same units, any case).
What a bare number means depends on the field, and each field keeps the meaning it always had:

- memory (`add --memory`, `set NAME memory=...`, a definition's `memory`, the add/edit form, the
  peer YAML's `memory` and `-m`): a bare number is MiB, so "512" and "512M" are the same. An
  integer (from YAML or JSON) is MiB too. The result is a whole number of MiB (`memory_mib`).
- disk sizes (`add --new-disk`, a peer YAML qcow2 disk's `size`): a bare number is bytes, as
  qemu-img takes it. The result is a whole number of bytes (`disk_bytes`), which is what qemu-img
  is given.

Errors are one line naming the field and quoting at most a short prefix of what was given.
"""

from __future__ import annotations

import re
from fractions import Fraction

from maqet_tui.common.errors import ConfigError, clip, top_field

KIB = 1024
MIB = KIB * 1024
GIB = MIB * 1024
TIB = GIB * 1024
UNITS = {"K": KIB, "M": MIB, "G": GIB, "T": TIB}
SIZE_RE = re.compile(
    r"\s*(\d{1,18})(?:\.(\d{1,9}))?\s*(?:([KMGT])(?:i?B)?)?\s*", re.IGNORECASE | re.ASCII
)


def _amount(value: object) -> tuple[Fraction, int | None] | None:
    """(number, bytes per unit, or None for a bare number); None if `value` is not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value), None
    if not isinstance(value, str):
        return None
    m = SIZE_RE.fullmatch(value)
    if m is None:
        return None
    number = Fraction(f"{m[1]}.{m[2] or 0}")
    return number, UNITS[m[3].upper()] if m[3] else None


def memory_mib(value: object, field: str = "memory") -> int:
    """Memory in MiB; a bare number (or an integer) is already MiB. No range check here."""
    parsed = _amount(value)
    if parsed is None:
        raise ConfigError(
            f"{field}: {clip(value)} is not a size; use MiB like 512, or with a unit: 512M, 1G",
            field=top_field(field),
        )
    number, unit = parsed
    mib = number * unit / MIB if unit else number
    if mib.denominator != 1:
        raise ConfigError(
            f"{field}: {clip(value)} is not a whole number of MiB", field=top_field(field)
        )
    return int(mib)


def disk_bytes(value: object, field: str = "size") -> int:
    """A disk size in bytes; a bare number is bytes, as for qemu-img."""
    parsed = _amount(value)
    if parsed is None or parsed[0] < 0:
        raise ConfigError(
            f"{field}: {clip(value)} is not a size like 512M or 20G", field=top_field(field)
        )
    number, unit = parsed
    size = number * (unit or 1)
    if size.denominator != 1:
        raise ConfigError(
            f"{field}: {clip(value)} is not a whole number of bytes", field=top_field(field)
        )
    if size == 0:
        raise ConfigError(
            f"{field}: a disk of 0 bytes holds nothing; give a size like 512M or 20G",
            field=top_field(field),
        )
    return int(size)
