"""A read-only look at one VM row with plain sqlite3, for the CLI's hot paths.

`import peewee` alone costs ~25 ms; `start` and `stop` read a few columns before they know
whether they need the full store at all. `store.py` owns the schema: this reads only a schema
version it knows (a test keeps the two in step) and returns None for anything else.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .ids import looks_like_id

SCHEMA_VERSION = 2


def read_row(db: Path, ident: str, columns: tuple[str, ...]) -> dict[str, Any] | None:
    """The VM named (or with id) `ident` as {column: value}, or None (no row, no such schema)."""
    if not db.exists():
        return None
    cols = ", ".join(columns)
    con = sqlite3.connect(db, timeout=15)
    try:
        if con.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return None
        # The store's rule (store.find): an id-shaped ident is an id, anything else a name.
        if looks_like_id(ident):
            row = con.execute(f"SELECT {cols} FROM vm WHERE id = ?", (ident.lower(),)).fetchone()
        else:
            row = con.execute(f"SELECT {cols} FROM vm WHERE name = ?", (ident,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return None if row is None else dict(zip(columns, row, strict=True))
