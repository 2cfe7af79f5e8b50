"""Figure 7: wall time of the integration suite for the 20 seed scenarios."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .common import BenchEnv, Figure

SUITE = "tests/integration/test_per_vm_architecture.py"
LIMIT_S = 20.0
REPO = Path(__file__).resolve().parent.parent


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    # The suite isolates itself (its own homes and runtime dirs per test, its own leak checks).
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MAQET_TUI_")}
    t0 = time.perf_counter()
    cp = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SUITE],
        cwd=REPO,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    dt = time.perf_counter() - t0
    tail = cp.stdout.decode(errors="replace").strip().splitlines()[-1:]
    ok = cp.returncode == 0
    return [
        Figure(
            "suite",
            "integration suite (20 seed scenarios)",
            "s",
            None,
            dt,
            f"< {LIMIT_S:g} s, passing",
            ok and dt < LIMIT_S,
            baseline_what="-",
            details={"returncode": cp.returncode, "summary": tail[0] if tail else ""},
        )
    ]
