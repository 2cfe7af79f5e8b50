"""The README's screenshot of guests from the Debian image: their SSH ports, the IPs their agents
report and the Overview's network and guest lines, in the real app at 120x36.

    .venv/bin/python screenshots/make_guest_screenshot.py [OUTDIR]

Needs the built image (`maqet-tui image build debian-12`; $MAQET_TUI_IMAGES, else the per-user
cache). Two VMs boot under TCG on `--net isolated` (they reach nothing outside this machine), in
a throw-away home and runtime directory; both are stopped before it exits, whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_screenshots import SIZE, save, select, status, throwaway_home, until
from textual.pilot import Pilot

from maqet_tui.tui.app import MaqetApp

GUESTS = ("web-1", "db")
TINY = {"memory": 64, "accel": "tcg"}
BOOT = 300.0  # two TCG guests booting side by side


async def guests_up(pilot: Pilot[Any], app: MaqetApp) -> None:
    """Both agents report an address (the guests have booted and taken a DHCP lease)."""

    def ips() -> bool:
        ids = [i for i, vm in app.vms.items() if vm["name"] in GUESTS]
        return len(ids) == len(GUESTS) and all((app.guests.get(i) or {}).get("ips") for i in ids)

    deadline = asyncio.get_running_loop().time() + BOOT
    while not ips():
        if asyncio.get_running_loop().time() > deadline:
            raise SystemExit("timed out waiting for the guests' agents")
        await pilot.pause(0.5)


async def shoot(home: Path, out: Path) -> None:
    app = MaqetApp(str(home))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all(status(app, n) == "running" for n in GUESTS), "VMs")
        await guests_up(pilot, app)
        await select(pilot, app, "web-1")
        await pilot.press("1")
        save(app, out, "07-guests")


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "maqet_tui", *args], check=True)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent).resolve()
    # The image ./scripts/test builds, not the throw-away home's (empty) images directory.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault("MAQET_TUI_IMAGES", str(cache / "maqet-tui" / "images"))
    with throwaway_home() as manager:
        for name in GUESTS:
            cli("add", name, "--image", "debian-12", "--net", "isolated", "--accel", "tcg")
        cli("forward", "add", "web-1", "tcp:8080:80")
        manager.add("build", {**TINY, "cpus": 2})
        for name in GUESTS:
            manager.start(name)
        asyncio.run(shoot(manager.paths.home, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
