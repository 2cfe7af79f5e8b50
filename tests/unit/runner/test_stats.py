"""The runner's stats sampler with fake /proc readings, a fake QMP and a fake clock."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from runner import stats
from runner.stats import ProcCounters, StatsSampler


class Fakes:
    def __init__(self) -> None:
        self.now = 100.0
        self.counters: ProcCounters | None = ProcCounters(0, 1 << 20, 0, 0)
        self.block: Any = []
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.queries = 0
        self.hang: asyncio.Future[Any] | None = None

    async def blockstats(self) -> Any:
        self.queries += 1
        if self.hang is not None:
            return await self.hang
        return self.block

    def sampler(self, ring: int = stats.RING) -> StatsSampler:
        return StatsSampler(
            lambda: self.counters,
            self.blockstats,
            lambda topic, data: self.published.append((topic, data)),
            clock=lambda: self.now,
            ring=ring,
        )


def devices(*pairs: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {"device": f"d{i}", "stats": {"rd_bytes": rd, "wr_bytes": wr}}
        for i, (rd, wr) in enumerate(pairs)
    ]


async def test_rates_and_cpu_between_two_readings() -> None:
    f = Fakes()
    s = f.sampler()
    f.block = devices((1000, 0), (0, 500))
    assert await s.sample() is None  # the baseline
    f.now += 2.0
    f.counters = ProcCounters(stats.TICKS, 2 << 20, 4000, 6000)  # one CPU second in two
    f.block = devices((5000, 0), (0, 2500))
    sample = await s.sample()
    assert sample is not None
    assert sample["cpu"] == 50.0
    assert sample["rss"] == 2 << 20
    assert (sample["disk_read"], sample["disk_write"]) == (2000.0, 1000.0)
    assert (sample["io_read"], sample["io_write"]) == (2000.0, 3000.0)
    assert f.published == [("stats", sample)]
    assert s.history() == [sample]


async def test_ring_keeps_only_the_newest() -> None:
    f = Fakes()
    s = f.sampler(ring=3)
    for i in range(6):
        f.now += 1.0
        f.counters = ProcCounters(i * stats.TICKS // 10, 1, 0, 0)
        await s.sample()
    assert len(s.history()) == 3
    assert s.history() == [d for _, d in f.published[-3:]]


async def test_a_slow_qemu_costs_the_disk_figures_only_and_gets_one_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    f = Fakes()
    s = f.sampler()
    f.hang = asyncio.get_running_loop().create_future()
    monkeypatch.setattr(stats, "BLOCKSTATS_WAIT", 0.01)
    await s.sample()
    f.now += 1.0
    sample = await s.sample()
    assert sample is not None and sample["disk_read"] is None and sample["cpu"] == 0.0
    assert f.queries == 1  # the first is still in flight: no second is queued behind it
    f.hang.set_result(devices((1, 1)))
    f.now += 1.0
    await s.sample()  # takes the late answer
    assert f.queries == 1
    f.now += 1.0
    later = await s.sample()  # a fresh query, and rates again
    assert f.queries == 2 and later is not None and later["disk_read"] == 0.0


async def test_counter_reset_and_missing_values() -> None:
    assert stats.per_second(10, 5, 1.0) == 0.0
    assert stats.per_second(None, 5, 1.0) is None
    assert stats.cpu_percent(10, 10 + 2 * stats.TICKS, 1.0) == 200.0  # two busy cores
    assert stats.blockstats_totals({"not": "a list"}) is None
    f = Fakes()
    s = f.sampler()
    f.counters = None  # QEMU gone
    assert await s.sample() is None and not f.published


def test_interval_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, want in (("0.2", 0.2), ("0.001", stats.MIN_INTERVAL), ("x", 2.0), ("-1", 2.0)):
        monkeypatch.setenv(stats.INTERVAL_ENV, value)
        assert stats.interval() == want
    monkeypatch.delenv(stats.INTERVAL_ENV)
    assert stats.interval() == stats.INTERVAL


def test_read_proc_of_this_process() -> None:
    c = stats.read_proc(os.getpid())
    assert c is not None and c.rss > 0 and c.cpu_ticks >= 0 and c.io_read is not None
    assert stats.read_proc(2**22 + 1) is None
