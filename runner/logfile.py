"""Size-capped append-only log files that never fail the code writing to them.

Both of the runner's logs (the guest's serial output and the runner's own log) go through
`CappedFile`. A log is a side effect: when it cannot be written (disk full, the logs directory
removed, a rotation failing) the runner must go on draining the serial port and serving its VM,
so a failed write is dropped and counted, reported once, and the file reopened at most every
RETRY seconds (recreating the logs directory, 0700, if it was removed). When writing works again
the gap is marked in the log itself, so nobody mistakes the log for complete.

Files are created 0600 whatever the umask: guest output and QEMU command lines are private.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

CAP_ENV = "MAQET_TUI_LOG_CAP"  # bytes per log file; for tests (a small cap rotates quickly)
DEFAULT_CAP = 2 << 20
MIN_CAP = 4096
RETRY = 2.0  # seconds between attempts to reopen a log that could not be written
CHECK = 1.0  # seconds between checks that the open file is still the one at the log's path


def log_cap() -> int:
    """The per-file cap: MAQET_TUI_LOG_CAP if it is a sane number of bytes, else 2 MiB."""
    try:
        cap = int(os.environ.get(CAP_ENV, ""))
    except ValueError:
        return DEFAULT_CAP
    return max(cap, MIN_CAP)


def open_private(path: Path) -> int:
    """An O_APPEND descriptor on `path`, created 0600; its directory is recreated (0700) when it
    was removed, but never its parents: a vanished home is not ours to rebuild."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        return os.open(path, flags, 0o600)


class CappedFile:
    """`path`, kept under `cap` bytes with one rotated generation (`path.1`).

    The size is read from the file (fstat) rather than counted, so bytes that others write to the
    same file (a traceback on the runner's stderr) count towards the cap too. `on_error(text)` is
    called once when logging stops working and `on_resume(text)` when it works again; `on_open(fd)`
    after each (re)open, e.g. to point stderr at the new file.
    """

    def __init__(
        self,
        path: Path,
        cap: int | None = None,
        *,
        on_error: Callable[[str], None] | None = None,
        on_resume: Callable[[str], None] | None = None,
        on_open: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.cap = log_cap() if cap is None else cap
        self.on_error = on_error
        self.on_resume = on_resume
        self.on_open = on_open
        self.clock = clock
        self.fd: int | None = None
        self.failure: str | None = None  # why logging is off, while it is
        self.lost = 0  # bytes dropped since logging went off
        self._next_try = 0.0
        self._next_check = clock() + CHECK
        self._try_open()

    def write(self, data: bytes) -> bool:
        """Append `data`; False if it was dropped. Never raises OSError."""
        now = self.clock()
        if self.fd is not None and now >= self._next_check:
            self._next_check = now + CHECK
            if not self._still_ours():
                self._close()  # deleted, or its directory removed: start a new file
                self._next_try = 0.0
        if self.fd is None and now >= self._next_try:
            self._try_open()
        if self.fd is None:
            self.lost += len(data)
            return False
        payload = self._gap_note() + data if self.failure is not None else data
        try:
            self._append(memoryview(payload))
        except OSError as exc:
            self._fail(exc)
            self.lost += len(data)
            return False
        if self.failure is not None:
            self._resumed()
        return True

    def close(self) -> None:
        self._close()

    # -- internals ----------------------------------------------------------------------------
    def _try_open(self) -> None:
        try:
            self.fd = open_private(self.path)
            if self.on_open is not None:
                self.on_open(self.fd)
        except OSError as exc:
            self._close()
            self._fail(exc)

    def _rotate(self) -> None:
        self._close()
        with contextlib.suppress(FileNotFoundError):  # removed already: nothing to keep
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self.fd = open_private(self.path)
        if self.on_open is not None:
            self.on_open(self.fd)

    def _append(self, view: memoryview) -> None:
        """Write all of `view`, rotating first when it would take the file past the cap (and
        splitting a chunk bigger than the cap itself, so no file ever exceeds it)."""
        while view:
            assert self.fd is not None
            size = os.fstat(self.fd).st_size
            if size + len(view) <= self.cap:
                part = view
            elif size > 0:
                self._rotate()
                continue
            else:
                part = view[: self.cap]
            written = os.write(self.fd, part)
            view = view[written:]

    def _still_ours(self) -> bool:
        assert self.fd is not None
        try:
            mine = os.fstat(self.fd)
            there = os.stat(self.path)
        except OSError:  # gone, or its directory replaced or made unreachable
            return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    def _fail(self, exc: OSError) -> None:
        self._close()
        self._next_try = self.clock() + RETRY
        if self.failure is None:
            self.failure = f"{exc.strerror or exc}"
            if self.on_error is not None:
                self.on_error(self.failure)

    def _gap_note(self) -> bytes:
        return f"\n[maqet-tui: {self.lost} bytes were not logged here ({self.failure})]\n".encode()

    def _resumed(self) -> None:
        text = f"{self.lost} bytes were not logged ({self.failure})"
        self.failure = None
        self.lost = 0
        if self.on_resume is not None:
            self.on_resume(text)

    def _close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            with contextlib.suppress(OSError):
                os.close(fd)


class CappedLogHandler(logging.Handler):
    """The runner's own log as a CappedFile, with stdout and stderr following each new file.

    The starter hands the runner its log as fds 1 and 2; whatever bypasses logging (a traceback
    printed by the interpreter, a stray print) is written there, so those fds are pointed at the
    current file after every rotation and count towards the cap like any other line. A failure
    here cannot be reported through logging (it is the log); the gap note in the file says it.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.file = CappedFile(path, on_open=_onto_stdio)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        self.file.write(line.encode(errors="replace"))

    def close(self) -> None:
        self.acquire()
        try:
            self.file.close()
        finally:
            self.release()
        super().close()


def _onto_stdio(fd: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # what is buffered belongs to the file it was written for
    os.dup2(fd, 1)
    os.dup2(fd, 2)
