"""Tools for the TUI figures: the VM table as a user sees it, and programs on a pseudo-terminal.

`PtyApp` runs a Textual program on a real pty: keys in as bytes, screen updates out as bytes. This
is how the TUI figures see "repaint": the first bytes the program writes to its terminal that show
the effect of a key, exactly what a user's terminal would receive. `mini_app` is the baseline: a
bare Textual DataTable with the same rows and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from typing import Any

COLUMNS = ("", "NAME", "STATUS", "vCPU", "MEM", "CPU%", "RSS", "UPTIME")
DOWN, UP = b"\x1b[B", b"\x1b[A"


class Unavailable(Exception):
    """The app lacks what a figure needs (it is being written); the figures are skipped."""


class Table:
    """The VM table as a user sees it: the DataTable whose columns include NAME and STATUS."""

    def __init__(self, app: Any) -> None:
        from textual.widgets import DataTable

        self.widget: Any = None
        self.name_col = self.status_col = -1
        for t in app.screen.query(DataTable):
            labels = [str(c.label).strip().upper() for c in t.ordered_columns]
            if "NAME" in labels and "STATUS" in labels:
                self.widget = t
                self.name_col, self.status_col = labels.index("NAME"), labels.index("STATUS")

    def row_of(self, name: str) -> int | None:
        for i in range(self.widget.row_count):
            if _plain(self.widget.get_row_at(i)[self.name_col]) == name:
                return i
        return None

    def status(self, name: str, hint: list[int]) -> str | None:
        """`hint` caches the row index between polls (rows keep their order)."""
        t = self.widget
        if (
            not hint
            or hint[0] >= t.row_count
            or _plain(t.get_row_at(hint[0])[self.name_col]) != name
        ):
            row = self.row_of(name)
            if row is None:
                return None
            hint[:] = [row]
        return _plain(t.get_row_at(hint[0])[self.status_col])

    def shows(self, name: str, status: str) -> Callable[[], bool]:
        """A predicate: the row of `name` shows `status`."""
        hint: list[int] = []
        return lambda: self.status(name, hint) == status


def _plain(cell: Any) -> str:
    return str(getattr(cell, "plain", cell)).strip()


async def until(
    pred: Callable[[], object], timeout: float, what: str, step: float = 0.002
) -> float:
    """Poll `pred` every `step` seconds; the monotonic time at which it first held."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(step)
    return time.monotonic()


class PtyApp:
    def __init__(self, argv: list[str], env: dict[str, str], size: tuple[int, int] = (120, 40)):
        cols, rows = size
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)},
            start_new_session=True,
        )
        os.close(slave)
        self.fd = master
        self.chunks: list[tuple[float, bytes]] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            now = time.monotonic()
            with self.cond:
                if data:
                    self.chunks.append((now, data))
                self.cond.notify_all()
            if not data:
                return

    def mark(self) -> int:
        with self.cond:
            return len(self.chunks)

    def wait_for(self, needle: bytes, since: int, timeout: float) -> float | None:
        """Monotonic time of the chunk that completed `needle` in the output after `since`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                buf = b""
                for t, data in self.chunks[since:]:
                    buf += data
                    if needle in buf:
                        return t
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.thread.is_alive():
                    return None
                self.cond.wait(remaining)

    def press(self, key: bytes) -> tuple[int, float]:
        since = self.mark()
        t0 = time.monotonic()
        os.write(self.fd, key)
        return since, t0

    def cpu_seconds(self) -> float:
        import psutil

        t = psutil.Process(self.pid).cpu_times()
        return float(t.user + t.system)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, b"q")
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.thread.join(2)


def mini_app(rows: list[tuple[str, str]]) -> None:
    """Run the baseline: one DataTable (row cursor) with `rows` as (name, status), q quits."""
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer

    class Mini(App[None]):
        BINDINGS = [("q", "quit", "Quit")]

        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")
            yield Footer()

        def on_mount(self) -> None:
            table: DataTable[Any] = self.query_one(DataTable)
            for label in COLUMNS:
                table.add_column(label)
            for name, status in rows:
                cells = (" ", name, status, "1", "64M", "-", "-", "-")
                table.add_row(*(Text(c) for c in cells), key=name)
            table.focus()

    Mini().run()
