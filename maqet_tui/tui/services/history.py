"""Each live VM's recent stats samples, as its runner publishes them on the `stats` topic.

The runner replays its ring on subscribe (`{"samples": [...], "replay": true}`), then sends one
sample per event; a replay replaces what was kept (a resubscription would otherwise double it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

KEEP = 150  # the runner's ring: five minutes at its default pace

Sample = dict[str, Any]


class StatsHistory:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._vms: dict[str, deque[Sample]] = {}

    def add(self, vm_id: str, data: Sample) -> None:
        if data.get("replay"):
            samples = [s for s in data.get("samples") or [] if isinstance(s, dict)]
            self._vms[vm_id] = deque(samples, maxlen=self.keep)
        else:
            self._vms.setdefault(vm_id, deque(maxlen=self.keep)).append(data)

    def vm_ids(self) -> list[str]:
        return list(self._vms)

    def samples(self, vm_id: str | None) -> list[Sample]:
        return list(self._vms.get(vm_id, ())) if vm_id is not None else []

    def series(self, vm_id: str | None, *keys: str, last: int | None = None) -> list[float]:
        """One number per sample: the sum of `keys` (a missing or null value counts 0)."""
        samples = self.samples(vm_id)[-last:] if last else self.samples(vm_id)
        return [float(sum(s.get(k) or 0 for k in keys)) for s in samples]

    def keep_only(self, vm_ids: Iterable[str]) -> None:
        """Forget VMs no longer live (their runner's history went with it)."""
        live = set(vm_ids)
        for vm_id in set(self._vms) - live:
            del self._vms[vm_id]


BARS = "▁▂▃▄▅▆▇█"


def spark(values: list[float], width: int, top: float = 100.0) -> str:
    """The last `width` values as block characters, scaled to `top` (or the largest, if more)."""
    values = values[-width:]
    if not values:
        return ""
    scale = max(top, max(values)) or 1.0
    bars = [BARS[min(len(BARS) - 1, int(v / scale * len(BARS)))] for v in values]
    return "".join(bars).rjust(width)
