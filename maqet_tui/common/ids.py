"""The shape of a VM id, shared by every lookup: the store, its plain-sqlite3 reader and the name
check. An id is 8 lowercase hex digits (`store.new_id`); a name can never have that shape, so an
ident is looked up as an id or as a name, never both, and one VM cannot stand in for another."""

from __future__ import annotations

import re

ID_RE = re.compile(r"[0-9a-fA-F]{8}")
# What a name of ours may be (VMs, hosts, images, disks and shares): it is also a file or
# directory name and a word on a command line, so no paths, spaces or leading dashes.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
NAME_RULE = "1-63 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"


def looks_like_id(ident: str) -> bool:
    """True for exactly 8 hex digits in any case (`DEADBEEF` means the id `deadbeef`)."""
    return ID_RE.fullmatch(ident) is not None
