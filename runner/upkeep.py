"""Keeping a live runner reachable and known when its surroundings are taken away.

- Its socket file removed (logind deletes /run/user/UID at the user's last logout, /tmp cleaners
  sweep by age, someone runs `rm -rf`): the runner binds again at the recorded path, recreating the
  directory 0700, or, when that cannot be done (only root can recreate /run/user/UID), in
  `/tmp/maqet-tui-$UID`, and records the new path. Clients always read the path from the
  store, so they follow.
- Its database deleted or replaced: the runner writes its row into the new one (id, name,
  definition, PIDs, socket), so `ls` lists it again and `stop` stops it. A name taken meanwhile by
  a newly added VM is kept by that VM; the running one is listed as NAME-ID.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maqet_tui.common.errors import ConfigError
from maqet_tui.common.paths import ensure_private_dir

from . import store_io

if TYPE_CHECKING:
    from .service import Runner

log = logging.getLogger("runner.upkeep")


def _private_dir(path: Path) -> bool:
    """Create `path` (0700) if it is missing; True when it is ours and private."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700
    )


async def heal_socket(r: Runner) -> None:
    """Serve again at the recorded path, or at the fallback; record where."""
    recorded = Path(r.spec["socket_path"])
    candidates = [recorded]
    try:
        fallback_dir = ensure_private_dir(Path(r.spec["fallback_dir"]))
        candidates.append(fallback_dir / recorded.name)
    except ConfigError as exc:
        log.warning("no fallback for the socket: %s", exc)
    for path in candidates:
        if not _private_dir(path.parent):
            continue
        try:
            await r.ipc.rebind(path)
        except (OSError, RuntimeError) as exc:
            log.warning("cannot serve at %s: %s", path, exc)
            continue
        log.info("socket %s was removed; serving at %s again", recorded, path)
        if path != r.socket_path:
            r.socket_path = path
            r.store.record(store_io.update_vm, r.vm_id, expect_runner=r.pid, socket_path=str(path))
        return
    log.error("socket %s was removed and cannot be bound again", recorded)


def adopt_row(r: Runner) -> dict[str, Any]:
    assert r.qemu is not None
    now = time.time()
    return {
        "id": r.vm_id,
        "name": r.name,
        "config": r.spec["config"],
        "status": r.status,
        "last_error": r.last_error,
        "qemu_pid": r.qemu.pid,
        "runner_pid": r.pid,
        "runner_started": r.started_ticks,
        "socket_path": str(r.socket_path),
        "started_at": r.started_at,
        "created_at": r.spec["created_at"] or now,
        "updated_at": now,
        "start_token": r.token,
    }


async def register(r: Runner) -> None:
    """Write this runner's row into a database that was deleted or replaced."""
    name = await r.store.write(store_io.adopt, adopt_row(r))
    if name != r.name:
        log.warning("the name %r was taken meanwhile; this VM is listed as %r", r.name, name)
        r.name = name
    log.info("the database was replaced; recorded %s (%s) in the new one", r.name, r.vm_id)
    r.ipc.publish("status", r.status_dict())
