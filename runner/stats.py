"""QEMU's resource use, sampled by its runner: CPU %, RSS, disk and host-side I/O, with history.

Every INTERVAL seconds (MAQET_TUI_STATS_INTERVAL, read by the runner, for tests) the sampler reads
QEMU's /proc/PID/stat, statm and io (no psutil: the runner stays light) and QMP's
`query-blockstats`, publishes one `stats` event and keeps the last RING samples, which a new
subscriber gets first (see RunnerAPI._subscribe), so a view starts with a few minutes of history.

QMP has no network counters (`query-rx-filter` is a filter's state, not traffic), so the
"network" figures are QEMU's own host-side I/O from /proc/PID/io (rchar/wchar): every byte QEMU
moves through a syscall, guest network traffic of user-mode networking included (and so is
disk I/O through the page cache). They are named `io_*`, not `net_*`, for that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .qmp_link import QmpLink

INTERVAL_ENV = "MAQET_TUI_STATS_INTERVAL"
INTERVAL = 2.0
MIN_INTERVAL = 0.05
RING = 150  # five minutes at the default pace
BLOCKSTATS_WAIT = 1.0  # seconds one sample waits for QEMU's answer (at most one query in flight)

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

Sample = dict[str, Any]


def interval() -> float:
    """MAQET_TUI_STATS_INTERVAL if it is a sane number of seconds, else 2."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, ""))
    except ValueError:
        return INTERVAL
    if not value > 0 or value == float("inf"):
        return INTERVAL
    return max(value, MIN_INTERVAL)


@dataclass(frozen=True)
class ProcCounters:
    cpu_ticks: int  # utime + stime
    rss: int  # bytes
    io_read: int | None  # rchar: bytes QEMU read through any syscall (None: io unreadable)
    io_write: int | None  # wchar


def read_proc(pid: int) -> ProcCounters | None:
    """QEMU's counters from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/statm", "rb") as f:
            statm = f.read().split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = raw[raw.rfind(")") + 2 :].split()  # rest[0] is field 3; utime is 14, stime 15
    io: dict[str, int] = {}
    # Unreadable for another user's process, or on a kernel without it.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/io", "rb") as f:
        for line in f.read().decode().splitlines():
            key, _, value = line.partition(":")
            io[key] = int(value)
    return ProcCounters(
        cpu_ticks=int(rest[11]) + int(rest[12]),
        rss=int(statm[1]) * PAGE,
        io_read=io.get("rchar"),
        io_write=io.get("wchar"),
    )


def blockstats_totals(reply: Any) -> tuple[int, int] | None:
    """(rd_bytes, wr_bytes) summed over every device in a `query-blockstats` answer."""
    if not isinstance(reply, list):
        return None
    rd = wr = 0
    for dev in reply:
        stats = dev.get("stats", {}) if isinstance(dev, dict) else {}
        rd += int(stats.get("rd_bytes", 0))
        wr += int(stats.get("wr_bytes", 0))
    return rd, wr


def per_second(prev: int | None, cur: int | None, dt: float) -> float | None:
    """The rate between two counter readings; None when either is missing, 0 after a reset."""
    if prev is None or cur is None or dt <= 0:
        return None
    return max(cur - prev, 0) / dt


def cpu_percent(prev_ticks: int, cur_ticks: int, dt: float) -> float:
    """CPU time over wall time, as top shows it: 100 is one core busy."""
    if dt <= 0:
        return 0.0
    return round(max(cur_ticks - prev_ticks, 0) / TICKS / dt * 100, 1)


def _consume(fut: asyncio.Future[Any]) -> None:
    """A late query's error is nobody's business: fetch it so asyncio does not log it."""
    if not fut.cancelled():
        fut.exception()


class StatsSampler:
    def __init__(
        self,
        read: Callable[[], ProcCounters | None],
        blockstats: Callable[[], Awaitable[Any]],
        publish: Callable[[str, Sample], None],
        clock: Callable[[], float] = time.monotonic,
        ring: int = RING,
    ) -> None:
        self._read = read
        self._blockstats = blockstats
        self._publish = publish
        self._clock = clock
        self.ring: deque[Sample] = deque(maxlen=ring)
        self._prev: tuple[float, ProcCounters, tuple[int, int] | None] | None = None
        self._query: asyncio.Future[Any] | None = None

    def history(self) -> list[Sample]:
        return list(self.ring)

    async def run(self, every: float) -> None:
        try:
            while True:
                await self.sample()
                await asyncio.sleep(every)
        finally:
            if self._query is not None:
                self._query.cancel()

    async def sample(self) -> Sample | None:
        """Take one sample; the first only sets the baseline (rates need two readings)."""
        disk = await self._disk()
        now, counters = self._clock(), self._read()
        if counters is None:
            return None
        prev, self._prev = self._prev, (now, counters, disk)
        if prev is None:
            return None
        t0, before, disk0 = prev
        dt = now - t0
        rd0, wr0 = disk0 or (None, None)
        rd, wr = disk or (None, None)
        sample: Sample = {
            "t": time.time(),
            "cpu": cpu_percent(before.cpu_ticks, counters.cpu_ticks, dt),
            "rss": counters.rss,
            "disk_read": per_second(rd0, rd, dt),
            "disk_write": per_second(wr0, wr, dt),
            "io_read": per_second(before.io_read, counters.io_read, dt),
            "io_write": per_second(before.io_write, counters.io_write, dt),
        }
        self.ring.append(sample)
        self._publish("stats", sample)
        return sample

    async def _disk(self) -> tuple[int, int] | None:
        """Summed block counters, or None when QEMU does not answer in time (a paused or busy
        QEMU): the query stays in flight, and no second one is sent while it does."""
        if self._query is None or self._query.done():
            self._query = asyncio.ensure_future(self._blockstats())
            self._query.add_done_callback(_consume)
        query = self._query
        done, _ = await asyncio.wait({query}, timeout=BLOCKSTATS_WAIT)
        if not done or query.cancelled() or query.exception() is not None:
            return None
        return blockstats_totals(query.result())


def sampler_for(pid: int, qmp: QmpLink, publish: Callable[[str, Sample], None]) -> StatsSampler:
    """The sampler of a runner's QEMU (`execute`, not `call`: a stats query never makes QEMU
    "unresponsive" to its users, nor counts as the command it owes)."""
    return StatsSampler(lambda: read_proc(pid), lambda: qmp.execute("query-blockstats"), publish)
