"""The per-VM lock that makes "one runner per VM" true even when two starts race.

The starter takes the lock before spawning and hands the open descriptor to the runner, which holds
it for its whole life; the kernel drops it when the runner dies, however it dies. So "is the lock
held?" is the ground truth for "does a runner exist?", independent of any PID in the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path


def try_lock(path: Path, patience: int = 1) -> int | None:
    """Take the lock without blocking; the open fd on success, None if someone holds it.

    The runner unlinks the file when it exits, so after locking we check that the file we hold is
    still the one at `path` (otherwise we locked an orphaned inode and must retry). With
    `patience` > 1, a refusal is retried a few ms later: another process's `is_held` probe holds a
    shared lock for microseconds, and a caller that concludes "a runner lives" must not be fooled
    by it.
    """
    for attempt in range(patience):
        if attempt:
            time.sleep(0.002)
        fd = _try_once(path)
        if fd is not None:
            return fd
    return None


def _try_once(path: Path) -> int | None:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def is_held(path: Path) -> bool:
    """True while a runner (or a starter about to spawn one) holds the VM's lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def release(fd: int, path: Path | None = None) -> None:
    """Unlink (while still holding, so no one can lock the old inode in between) and close."""
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    os.close(fd)
