"""The second host of the fleet figures: a real sshd on 127.0.0.1 (tests/sshd.py), registered as
`lab` in a benchmark home, its maqet-tui running with a home of its own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .common import BenchEnv

if TYPE_CHECKING:
    from maqet_tui.common.paths import Paths
    from maqet_tui.fleet.hostspec import HostSpec


@dataclass(frozen=True)
class Lab:
    home: Path
    """This side's home, where `lab` is registered."""
    far: Path
    """The host's own home."""
    paths: Paths
    spec: HostSpec


@contextmanager
def lab_host(env: BenchEnv, stem: str) -> Iterator[Lab]:
    """`lab` registered in a fresh home; its shared connection and sshd are gone on the way out."""
    from maqet_tui.common.paths import Paths
    from maqet_tui.fleet import registry
    from maqet_tui.fleet.hostspec import make_spec
    from maqet_tui.fleet.ssh import close_master
    from maqet_tui.store import models as store
    from tests.sshd import REPO, Sshd

    sshd = Sshd()
    home, far = env.home(stem), env.home(f"{stem}-remote")
    paths = Paths(home, env.runtime)
    command = (
        f"env MAQET_TUI_HOME={far} MAQET_TUI_RUNTIME_DIR={env.runtime} MAQET_TUI_ACCEL=tcg "
        f"PYTHONPYCACHEPREFIX={env.root / 'pycache'} PYTHONPATH={REPO} {sys.executable} -m maqet_tui"
    )
    spec = make_spec("lab", sshd.destination(), command, sshd.ssh_options())
    try:
        registry.add(paths, spec)
        store.close_db()
        yield Lab(home, far, paths, spec)
    finally:
        store.close_db()
        close_master(spec, paths)
        for problem in sshd.stop():
            print(problem, file=sys.stderr)
