"""The hosts of this machine's store, as HostSpecs: add, list, get, remove.

`get` (every `--host` command) reads with plain sqlite3 and only falls back to the ORM (which
creates or migrates the store) when the file is missing or of another schema: peewee's import
would delay the ssh that the command is waiting for.
"""

from __future__ import annotations

from typing import Any

from maqet_tui.common.errors import NotFoundError, StoreError, clip
from maqet_tui.common.paths import Paths
from maqet_tui.fleet.hostspec import HostSpec, validate_host_name
from maqet_tui.store import rows as fast


def _open(paths: Paths) -> None:
    from maqet_tui.store import models as store

    paths.ensure()
    store.open_db(paths.db)


def spec_of(row: dict[str, Any]) -> HostSpec:
    """The HostSpec of a row of the hosts table (store/hosts.py's shape)."""
    return HostSpec(
        row["name"], row["destination"], tuple(row["command"]), tuple(row["ssh_options"])
    )


def add(paths: Paths, spec: HostSpec) -> None:
    from maqet_tui.store import hosts as rows

    _open(paths)
    rows.insert_host(spec.name, spec.destination, list(spec.command), list(spec.ssh_options))


def all_hosts(paths: Paths) -> list[HostSpec]:
    from maqet_tui.store import hosts as rows

    _open(paths)
    return [spec_of(r) for r in rows.all_hosts()]


def get(paths: Paths, name: str) -> HostSpec:
    validate_host_name(name)
    con = fast.connect(paths.db)
    if con is None:
        from maqet_tui.store import hosts as rows

        _open(paths)
        return spec_of(rows.get_host(name))
    try:
        row = fast.read_host(con, name)
    except Exception as exc:  # sqlite3.Error: said as the store says it
        raise StoreError(f"cannot read the hosts: {exc}") from None
    finally:
        con.close()
    if row is None:
        raise NotFoundError(f"no host named {clip(name)} (maqet-tui host ls lists them)")
    return spec_of(row)


def remove(paths: Paths, name: str) -> HostSpec:
    from maqet_tui.store import hosts as rows

    _open(paths)
    return spec_of(rows.delete_host(name))
