"""The hosts of this machine's store, as HostSpecs: add, list, get, remove."""

from __future__ import annotations

from typing import Any

from maqet_tui.common.paths import Paths
from maqet_tui.fleet.hostspec import HostSpec, validate_host_name
from maqet_tui.store import hosts as rows
from maqet_tui.store import models as store


def _open(paths: Paths) -> None:
    paths.ensure()
    store.open_db(paths.db)


def _spec(row: dict[str, Any]) -> HostSpec:
    return HostSpec(
        row["name"], row["destination"], tuple(row["command"]), tuple(row["ssh_options"])
    )


def add(paths: Paths, spec: HostSpec) -> None:
    _open(paths)
    rows.insert_host(spec.name, spec.destination, list(spec.command), list(spec.ssh_options))


def all_hosts(paths: Paths) -> list[HostSpec]:
    _open(paths)
    return [_spec(r) for r in rows.all_hosts()]


def get(paths: Paths, name: str) -> HostSpec:
    validate_host_name(name)
    _open(paths)
    return _spec(rows.get_host(name))


def remove(paths: Paths, name: str) -> HostSpec:
    _open(paths)
    return _spec(rows.delete_host(name))
