"""Where a home's files live, and the private directory for the runners' sockets.

The home holds durable things (the database, logs, VM data). A new runner binds its socket where the
contract says: `$MAQET_TUI_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/maqet-tui`, else
`/tmp/maqet-tui-$UID` (0700, sockets 0600, paths under 108 bytes). But that choice is only where a
socket is born: its path is recorded in the store, and every client reads it from there, never from
its own environment. So a session without `XDG_RUNTIME_DIR` (cron, `su`), with another
`MAQET_TUI_RUNTIME_DIR`, or a relative one, reaches every VM of the home. And when the directory
goes (systemd-logind removes /run/user/UID at the last logout, /tmp is swept by age, `rm -rf`),
the runner binds again at the same path, or, if that directory cannot be made again (only root can
recreate /run/user/UID), at `/tmp/maqet-tui-$UID`, and records the new path (runner/upkeep.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from maqet_tui.common.errors import ConfigError
from maqet_tui.common.privacy import warn_if_open
from maqet_tui.common.unixsock import MAX_SOCKET_PATH


def default_home() -> Path:
    """`$MAQET_TUI_HOME`, else `$XDG_DATA_HOME/maqet-tui` (`~/.local/share/maqet-tui`)."""
    env = os.environ.get("MAQET_TUI_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(xdg) / "maqet-tui"


def default_runtime_dir() -> Path:
    """Where a new runner binds, as the contract orders it (see the module docstring)."""
    env = os.environ.get("MAQET_TUI_RUNTIME_DIR")
    if env:
        return Path(env).absolute()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg).absolute() / "maqet-tui"
    return fallback_runtime_dir()


def fallback_runtime_dir() -> Path:
    """The contract's last resort; also where a runner rebinds when its own directory is gone
    for good."""
    return Path(f"/tmp/maqet-tui-{os.getuid()}")


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

    def __init__(self, home: Path, runtime: Path) -> None:
        self.home = home
        # Where new runners bind (see the module docstring). Resolved to a private directory
        # (maybe a subdirectory of it) on first use.
        self.runtime_base = runtime
        self._runtime: Path | None = None

    def __repr__(self) -> str:
        return f"Paths(home={self.home!r}, runtime={self.runtime_base!r})"

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Paths:
        """The paths for `home` (or the default home) and this process's runtime directory choice."""
        h = Path(home).expanduser() if home else default_home()
        return cls(home=h.absolute(), runtime=default_runtime_dir())

    @property
    def runtime(self) -> Path:
        """The private directory new runners bind their sockets in (created on first use)."""
        if self._runtime is None:
            self._runtime = ensure_private_dir(self.runtime_base)
        return self._runtime

    @property
    def db(self) -> Path:
        """The SQLite store."""
        return self.home / "maqet.db"

    @property
    def logs(self) -> Path:
        """Runner and serial logs, one pair per VM."""
        return self.home / "logs"

    @property
    def vms(self) -> Path:
        """Per-VM data directories (disks maqet-tui created)."""
        return self.home / "vms"

    @property
    def qmp_history(self) -> Path:
        """The TUI's QMP prompt history (0600: commands can carry secrets, e.g. a password)."""
        return self.home / "qmp_history"

    def vm_dir(self, vm_id: str) -> Path:
        """The data directory of one VM."""
        return self.vms / vm_id

    def runner_log(self, vm_id: str) -> Path:
        """The runner's own log (capped, one rotation)."""
        return self.logs / f"{vm_id}.runner.log"

    def serial_log(self, vm_id: str) -> Path:
        """The guest's serial output (capped, one rotation)."""
        return self.logs / f"{vm_id}.serial.log"

    def socket(self, vm_id: str) -> Path:
        """Where a runner started now binds. Clients use the path the store records instead.
        A runtime directory too deep for AF_UNIX (107 bytes) gives way to the fallback."""
        p = self.runtime / f"{vm_id}.sock"
        if len(os.fsencode(p)) > MAX_SOCKET_PATH:
            return self.fallback_socket(vm_id)
        return p

    def fallback_socket(self, vm_id: str) -> Path:
        """Where a runner binds when its directory is gone and cannot be made again (a removed
        /run/user/UID can only be recreated by root), or is too deep for a socket path."""
        return ensure_private_dir(fallback_runtime_dir()) / f"{vm_id}.sock"

    def ensure(self) -> None:
        """Create the home (0700: it holds logs with guest output). The runtime directory is
        made only when a runner is started: no read ever depends on it."""
        for d in (self.home, self.logs, self.vms):
            try:
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create {d}: {exc.strerror}") from None
        warn_if_open(self.home)
