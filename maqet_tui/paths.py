"""Where a home's files live, and the private runtime directory for sockets and locks.

The home holds durable things (the database, logs, VM data). Sockets and locks live in a separate
runtime directory because AF_UNIX paths are limited to 107 usable bytes whatever the home is, and
because that directory must be private (0700) to the user.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ConfigError
from .privacy import warn_if_open

# AF_UNIX sun_path is 108 bytes including the NUL; Python's connect() refuses 108, so 107 is the limit.
MAX_SOCKET_PATH = 107


def default_home() -> Path:
    env = os.environ.get("MAQET_TUI_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(xdg) / "maqet-tui"


def default_runtime_dir() -> Path:
    env = os.environ.get("MAQET_TUI_RUNTIME_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "maqet-tui"
    return Path(f"/tmp/maqet-tui-{os.getuid()}")


def ensure_private_dir(path: Path) -> None:
    """Create `path` as 0700 owned by us, or refuse one that another user could reach into.

    A pre-existing directory with loose permissions is tightened when we own it (a leftover from an
    older run with a different umask); one owned by someone else is refused, because its sockets
    could be replaced under us.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise ConfigError(f"cannot create runtime directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"runtime directory {path} is not a directory")
    if st.st_uid != os.getuid():
        raise ConfigError(f"runtime directory {path} is owned by uid {st.st_uid}, not by us")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)


class Paths:
    """All file locations for one home; cheap to build, creates nothing until asked.

    A plain class, not a dataclass: importing dataclasses costs ~5 ms on every CLI command.
    """

    __slots__ = ("home", "runtime")

    def __init__(self, home: Path, runtime: Path) -> None:
        self.home = home
        self.runtime = runtime

    def __repr__(self) -> str:
        return f"Paths(home={self.home!r}, runtime={self.runtime!r})"

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Paths:
        h = Path(home).expanduser() if home else default_home()
        return cls(home=h.absolute(), runtime=default_runtime_dir().absolute())

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
        p = self.runtime / f"{vm_id}.sock"
        if len(os.fsencode(p)) > MAX_SOCKET_PATH:
            raise ConfigError(
                f"socket path {p} is longer than {MAX_SOCKET_PATH} bytes; "
                "set MAQET_TUI_RUNTIME_DIR to a shorter directory"
            )
        return p

    def lock(self, vm_id: str) -> Path:
        return self.runtime / f"{vm_id}.lock"

    def ensure(self) -> None:
        """Create the home (0700: it holds logs with guest output) and the runtime directory."""
        for d in (self.home, self.logs, self.vms):
            try:
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create {d}: {exc.strerror}") from None
        warn_if_open(self.home)
        ensure_private_dir(self.runtime)
