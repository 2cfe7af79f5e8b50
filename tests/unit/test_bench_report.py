"""The benchmark report: a quick run is a smoke test and must not read as missed targets (the
full figures are in the README), while a full run names what it missed."""

from __future__ import annotations

from benchmarks.common import Figure
from benchmarks.run import summary, table


def figure(met: bool | None) -> Figure:
    return Figure(
        key="start", title="CLI start", unit="ms", ours=90.0, baseline=10.0, target="< 6x", met=met
    )


def test_quick_run_is_a_smoke_test_not_a_verdict() -> None:
    line = summary(2, 12.0, ["CLI start"], quick=True)
    assert "MISSED" not in line and "smoke test" in line and "benchmarks.run" in line
    rows = table([figure(False), figure(None)], quick=True)
    assert "MISSED" not in rows and "not judged" in rows


def test_full_run_names_what_it_missed() -> None:
    assert summary(2, 90.0, ["CLI start"], quick=False).endswith("MISSED: CLI start")
    assert summary(2, 90.0, [], quick=False).endswith("all measured targets met")
    assert "MISSED" in table([figure(False)])
