"""Where a home's files live, and the private directory for the runners' sockets.

The home holds durable things (the database, logs, VM data) and, by default, the runners' sockets
too (`HOME/run`): every session of the user that names the same home reaches the same runners,
whatever its environment says. A session-scoped directory such as `$XDG_RUNTIME_DIR` is removed by
systemd-logind at the user's last logout, cron and `su` sessions have none, and `/tmp` is swept by
age; none of them may decide whether a VM can be reached. `MAQET_TUI_RUNTIME_DIR` still chooses
where new runners bind (a home on a filesystem that cannot hold sockets), but nothing reads a
socket's location from the environment: each runner's socket path is recorded in the store, and a
runner whose socket file vanished binds it again (see runner/service.py).

Socket paths longer than AF_UNIX allows (107 bytes) are reached through `/proc/self/fd`, see
`unixsock.py`, so a deep home works as well as a short one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ConfigError


def default_home() -> Path:
    env = os.environ.get("MAQET_TUI_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(xdg) / "maqet-tui"


def runtime_override() -> Path | None:
    env = os.environ.get("MAQET_TUI_RUNTIME_DIR")
    return Path(env).absolute() if env else None


def ensure_private_dir(path: Path) -> Path:
    """The directory to use for sockets: `path` itself when it is ours and private (or we create
    it now, 0700), else a private subdirectory of it.

    A directory we did not create is never chmod-ed: `/tmp` (1777) or a shared group directory
    given as MAQET_TUI_RUNTIME_DIR keeps its mode, and we work in `maqet-tui-UID` inside it. That
    subdirectory is ours, so it is tightened to 0700 if an older run left it looser; one owned by
    someone else is refused, because its sockets could be replaced under us.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise ConfigError(f"cannot create runtime directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"runtime directory {path} is not a directory")
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700:
        return path
    sub = path / f"maqet-tui-{os.getuid()}"
    try:
        sub.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(sub)
    except OSError as exc:
        raise ConfigError(f"cannot create runtime directory {sub}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"runtime directory {sub} is not a directory")
    if st.st_uid != os.getuid():
        raise ConfigError(f"runtime directory {sub} is owned by uid {st.st_uid}, not by us")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(sub, 0o700)
    return sub


class Paths:
    """All file locations for one home; cheap to build, creates nothing until asked.

    A plain class, not a dataclass: importing dataclasses costs ~5 ms on every CLI command.
    """

    __slots__ = ("_runtime", "home", "runtime_base")

    def __init__(self, home: Path, runtime: Path | None = None) -> None:
        self.home = home
        # Where new runners bind: MAQET_TUI_RUNTIME_DIR, or HOME/run. Resolved to a private
        # directory (maybe a subdirectory of it) on first use.
        self.runtime_base = runtime or home / "run"
        self._runtime: Path | None = None

    def __repr__(self) -> str:
        return f"Paths(home={self.home!r}, runtime={self.runtime_base!r})"

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Paths:
        h = Path(home).expanduser() if home else default_home()
        return cls(home=h.absolute(), runtime=runtime_override())

    @property
    def runtime(self) -> Path:
        """The private directory new runners bind their sockets in (created on first use)."""
        if self._runtime is None:
            self._runtime = ensure_private_dir(self.runtime_base)
        return self._runtime

    @property
    def db(self) -> Path:
        return self.home / "maqet.db"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def vms(self) -> Path:
        return self.home / "vms"

    def vm_dir(self, vm_id: str) -> Path:
        return self.vms / vm_id

    def runner_log(self, vm_id: str) -> Path:
        return self.logs / f"{vm_id}.runner.log"

    def serial_log(self, vm_id: str) -> Path:
        return self.logs / f"{vm_id}.serial.log"

    def socket(self, vm_id: str) -> Path:
        """Where a runner started now binds. Clients use the path the store records instead."""
        return self.runtime / f"{vm_id}.sock"

    def fallback_socket(self, vm_id: str) -> Path:
        """Where a runner rebinds when its recorded directory is gone and cannot be made again
        (a removed /run/user/UID can only be recreated by root)."""
        return self.home / "run" / f"{vm_id}.sock"

    def ensure(self) -> None:
        """Create the home (0700: it holds logs with guest output). The runtime directory is
        made only when a runner is started: no read ever depends on it."""
        for d in (self.home, self.logs, self.vms):
            try:
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create {d}: {exc.strerror}") from None
