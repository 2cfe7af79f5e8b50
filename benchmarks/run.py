"""`python -m benchmarks.run [--quick] [--json PATH]`: every figure, ours next to its baseline.

Exit status: 0 when everything ran (missed targets are printed as MISSED, not failed); 1 when a
benchmark broke or something (a runner, a QEMU) was left behind. `--quick` is a smoke test: it
checks that every quick benchmark runs, and does not judge targets (a handful of samples on a busy
machine cannot), so it never prints MISSED.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import console, fleet, images, ipc, ls, memory, ssh_boot, start, stop, suite, tui, tui_fleet
from .common import BenchEnv, Figure, skipped

DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"
Group = Callable[[BenchEnv, bool], list[Figure]]
# (name, function, runs in --quick)
GROUPS: list[tuple[str, Group, bool]] = [
    ("start", start.run, True),
    ("ipc", ipc.run, True),
    ("memory", memory.run, True),
    ("ls", ls.run, True),
    ("fleet (ssh)", fleet.run, True),
    ("stop (demo guest)", stop.run, False),
    ("suite", suite.run, False),
    ("tui", tui.run, True),
    ("tui fleet (ssh)", tui_fleet.run, True),
    ("console (demo guest)", console.run, False),
    ("sshboot (Debian image)", ssh_boot.run, False),
    ("images", images.run, True),
]


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "%":
        return f"{value:.2f} %"
    if unit in ("ms", "MB"):
        return f"{value:.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"
    return f"{value:.0f} {unit}"


def verdict(f: Figure, quick: bool = False) -> str:
    if f.skipped:
        return "skipped"
    if f.met is None:
        return "n/a"
    if quick:
        return "not judged"
    return "yes" if f.met else "MISSED"


def table(figures: list[Figure], quick: bool = False) -> str:
    rows = [("figure", "baseline", "ours", "ratio", "target", "met?")]
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        rows.append(
            (
                f.title,
                fmt(f.baseline, f.unit),
                fmt(f.ours, f.unit),
                ratio,
                f.target,
                verdict(f, quick),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, r in enumerate(rows):
        lines.append(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if j == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(count: int, duration: float, missed: list[str], quick: bool) -> str:
    """The last line. A quick run says it is a smoke test rather than listing targets as missed:
    its few samples on a shared machine would report misses that a full run does not have."""
    head = f"{count} figures in {duration:.1f} s; "
    if quick:
        return head + (
            "quick mode is a smoke test: the benchmarks work, targets are not judged "
            "(the figures and verdicts come from a full run: python -m benchmarks.run)"
        )
    return head + ("all measured targets met" if not missed else f"MISSED: {'; '.join(missed)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="few samples; no suite, no guest boots")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    p.add_argument("--only", action="append", help="run only these groups (repeatable)")
    args = p.parse_args(argv)
    t_start = time.monotonic()
    env = BenchEnv()
    figures: list[Figure] = []
    errors: list[str] = []
    problems: list[str] = []
    load_before = os.getloadavg()
    print(
        f"maqet-tui benchmarks ({'quick' if args.quick else 'full'}); runtime {env.runtime}; "
        f"load average {load_before[0]:.2f}"
    )
    try:
        for name, fn, in_quick in GROUPS:
            if args.only and not any(o in name for o in args.only):
                continue
            if args.quick and not in_quick:
                print(f"- {name}: skipped in --quick", flush=True)
                figures.append(skipped(name, name, "not run in --quick"))
                continue
            t0 = time.monotonic()
            print(f"- {name} ...", end="", flush=True)
            try:
                got = fn(env, args.quick)
            except Exception as exc:
                print(" ERROR", flush=True)
                traceback.print_exc()
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                figures.append(skipped(name, name, f"error: {type(exc).__name__}: {exc}"))
                problems += env.stop_all()
                continue
            print(f" {time.monotonic() - t0:.1f} s", flush=True)
            for f in got:
                if f.skipped:
                    print(f"  {f.title}: {f.skipped}", flush=True)
            figures += got
    finally:
        problems += env.cleanup()
    duration = time.monotonic() - t_start
    print()
    print(table(figures, args.quick))
    missed = [f.title for f in figures if f.met is False]
    print()
    print(summary(len(figures), duration, missed, args.quick))
    for e in errors:
        print(f"ERROR {e}")
    for prob in problems:
        print(f"LEAK/CLEANUP {prob}")
    result = {
        "mode": "quick" if args.quick else "full",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": duration,
        "host": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "session_had_PYTHONDONTWRITEBYTECODE": env.no_bytecode,
        },
        "figures": [f.to_json() for f in figures],
        "missed": missed,
        "errors": errors,
        "cleanup_problems": problems,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {args.json}")
    return 1 if errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
