"""Figures 11a/11b: building the Debian image.

11a, cold build: read from the cached image's own metadata (`build_seconds`), written by the
last real build on this machine (./scripts/test builds it before the suite), so no run builds
twice. Its baseline is the part plain mmdebstrap does (`install_seconds`: resolving,
downloading, installing the packages); the rest is ours: configuring, mke2fs, the qcow2.

11b, cache hit: a real `maqet-tui image build debian-12` process that finds the image current,
against `maqet-tui image ls` (the same start-up reading the same metadata), interleaved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .common import BenchEnv, Figure, median, run_alternated, run_timed, skipped, summary

NAME = "debian-12"
HIT_RATIO = 1.5


def images_dir() -> Path:
    """Where ./scripts/test and the suite keep the image: $MAQET_TUI_IMAGES, else the per-user
    cache (tests/images.py)."""
    env = os.environ.get("MAQET_TUI_IMAGES")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "maqet-tui" / "images"


def _cold(meta: dict[str, object], root: Path) -> Figure:
    install, build = meta.get("install_seconds"), meta.get("build_seconds")
    title = f"image build {NAME}, cold (last build)"
    if not isinstance(install, int | float) or not isinstance(build, int | float):
        why = "the cached image records no build timings (image build --force records them)"
        return skipped("image_build_cold", title, why)
    return Figure(
        "image_build_cold",
        title,
        "s",
        float(install),
        float(build),
        "- (informational)",
        None,
        baseline_what="the mmdebstrap part: resolving, downloading, installing packages",
        details={"built_at": meta.get("built_at"), "images_dir": str(root)},
    )


def run(env: BenchEnv, quick: bool) -> list[Figure]:
    from maqet_tui.core.image_build import cached, recipe_for

    root = images_dir()
    meta_file = root / NAME / "image.json"
    if cached(root / NAME, recipe_for(NAME)) is None:
        why = f"{NAME} is not built in {root} (./scripts/test builds it first)"
        return [
            skipped("image_build_cold", "image build, cold", why),
            skipped("image_build_hit", "image build, cache hit", why),
        ]
    meta = json.loads(meta_file.read_text())
    cold = _cold(meta, root)

    home = env.home("images")
    cli_env = {**env.env(home), "MAQET_TUI_IMAGES": str(root)}
    ours_argv = [env.cli, "image", "build", NAME]
    base_argv = [env.cli, "image", "ls"]
    _, cp = run_timed(ours_argv, cli_env)  # warm-up, and the proof that it is a hit
    assert b"is up to date" in cp.stderr, cp.stderr
    run_timed(base_argv, cli_env)
    n = 3 if quick else 15
    a, b = run_alternated(ours_argv, base_argv, cli_env, n)
    ours, base = median(a) * 1e3, median(b) * 1e3
    hit = Figure(
        "image_build_hit",
        f"image build {NAME}, cache hit",
        "ms",
        base,
        ours,
        f"< {HIT_RATIO:g}x",
        ours < HIT_RATIO * base,
        baseline_what="maqet-tui image ls",
        details={"ours_ms": summary(a, 1e3), "baseline_ms": summary(b, 1e3)},
    )
    return [cold, hit]
