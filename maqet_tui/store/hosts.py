"""The fleet's host registry in the local store: rows only, validation lives in the fleet part.

Kept apart from models.py (VMs and events) so each module keeps one job.
"""

from __future__ import annotations

import json
import time
from typing import Any

from maqet_tui.common.errors import NotFoundError, StoreError, clip
from maqet_tui.store.models import Host, immediate


def _row(h: Host) -> dict[str, Any]:
    return {
        "name": h.name,
        "destination": h.destination,
        "command": json.loads(h.command),
        "ssh_options": json.loads(h.ssh_options),
        "created_at": h.created_at,
    }


def insert_host(name: str, destination: str, command: list[str], ssh_options: list[str]) -> None:
    """Add a host; a name already taken is a StoreError naming it."""
    with immediate():
        if Host.select().where(Host.name == name).exists():
            raise StoreError(f"a host named {name!r} already exists", field="name")
        Host.insert(
            name=name,
            destination=destination,
            command=json.dumps(command),
            ssh_options=json.dumps(ssh_options),
            created_at=time.time(),
        ).execute()


def all_hosts() -> list[dict[str, Any]]:
    """Every host, ordered by name."""
    return [_row(h) for h in Host.select().order_by(Host.name)]


def get_host(name: str) -> dict[str, Any]:
    h = Host.get_or_none(Host.name == name)
    if h is None:
        raise NotFoundError(f"no host named {clip(name)} (maqet-tui host ls lists them)")
    return _row(h)


def delete_host(name: str) -> dict[str, Any]:
    """Forget a host (its VMs are untouched: they live on it); returns the row it was."""
    with immediate():
        row = get_host(name)
        Host.delete().where(Host.name == name).execute()
    return row
