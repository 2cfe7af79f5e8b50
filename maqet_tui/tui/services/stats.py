"""Once a second: each QEMU's CPU % and RSS, and the host's cores, load and memory.

psutil's cpu_percent measures since the previous call on the same Process object, so the objects
are kept between samples (keyed by pid and creation time, so a reused pid starts afresh).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import psutil
from textual.message import Message

from maqet_tui.tui.messages import HostSample, StatsSampled
from maqet_tui.tui.services.threads import ServiceThread

INTERVAL = 2.0  # like top's default pace; each sample repaints the live rows


def host_sample() -> HostSample:
    mem = psutil.virtual_memory()
    return HostSample(
        cores=psutil.cpu_count() or 1,
        load=os.getloadavg(),
        mem_used=int(mem.total - mem.available),
        mem_total=int(mem.total),
    )


class StatsSampler(ServiceThread):
    name = "stats"

    def __init__(
        self,
        post: Callable[[Message], object],
        pids: Callable[[], dict[str, int]],
        sample_host: bool = True,
        interval: float = INTERVAL,
    ) -> None:
        super().__init__(post)
        self._pids = pids
        self.sample_host = sample_host
        self.interval = interval
        self._procs: dict[int, psutil.Process] = {}

    def run(self) -> None:
        while not self.stopped:
            try:
                vms = self._sample_vms()
                host = host_sample() if self.sample_host else None
                self.post(StatsSampled(vms, host))
            except Exception:
                pass  # a sample is worth nothing next second; never let the loop die over one
            self.wait(self.interval)

    def _sample_vms(self) -> dict[str, tuple[float, int]]:
        out: dict[str, tuple[float, int]] = {}
        seen: set[int] = set()
        for vm_id, pid in self._pids().items():
            seen.add(pid)
            try:
                proc = self._procs.get(pid)
                if proc is None or not proc.is_running():
                    proc = self._procs[pid] = psutil.Process(pid)
                with proc.oneshot():
                    out[vm_id] = (proc.cpu_percent(None), proc.memory_info().rss)
            except (psutil.Error, OSError):
                self._procs.pop(pid, None)
        for pid in set(self._procs) - seen:
            del self._procs[pid]
        return out
