"""The shape of a VM id, shared by every lookup: the store, its plain-sqlite3 reader and the name
check. An id is 8 lowercase hex digits (`store.new_id`); a name can never have that shape, so an
ident is looked up as an id or as a name, never both, and one VM cannot stand in for another."""

from __future__ import annotations

import re

ID_RE = re.compile(r"[0-9a-fA-F]{8}")


def looks_like_id(ident: str) -> bool:
    """True for exactly 8 hex digits in any case (`DEADBEEF` means the id `deadbeef`)."""
    return ID_RE.fullmatch(ident) is not None
