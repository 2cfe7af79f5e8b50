"""The Debian image the suite boots, built once per machine into a shared cache.

Every test that needs a real image calls `debian_image()` (or takes the session fixture of the
same name in tests/conftest.py): the first call in a session builds it unless the cache holds a
build of the current recipe (scripts/test builds it before pytest, so a run normally starts with
a cache hit). The cache is `$MAQET_TUI_IMAGES` when set, else `$XDG_CACHE_HOME/maqet-tui/images`;
tests/conftest.py sets the variable for the whole session so that every home sees the image.
A test that must not touch the shared images sets MAQET_TUI_IMAGES to its own directory. A
cold build takes one to two minutes: a test that may be the first to ask for the image carries
`@pytest.mark.timeout(900)` (the suite's default is 120 s).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

from maqet_tui.common.paths import Paths
from maqet_tui.core.image_build import build_image
from maqet_tui.core.images import Image

DEBIAN = "debian-12"
# Seconds the session's own build took (None: it was a cache hit); the build benchmark
# reports it rather than building twice.
BUILD_SECONDS: dict[str, float | None] = {}


def default_images_cache() -> Path:
    env = os.environ.get("MAQET_TUI_IMAGES")
    if env:
        return Path(env).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "maqet-tui" / "images"


SHARED_IMAGES = default_images_cache()


@functools.cache
def debian_image() -> Image:
    """The built `debian-12` image in the shared cache (built now if it is missing or stale).

    Built with a home that does not exist: a home's VMs matter only to refuse a rebuild under
    them, and the suite's homes never use the shared image's disk itself, only overlays of it
    that live and die with each test."""
    nowhere = Paths(home=Path("/nonexistent/maqet-tui-tests"), runtime=Path("/nonexistent"))
    saved = os.environ.get("MAQET_TUI_IMAGES")
    os.environ["MAQET_TUI_IMAGES"] = str(SHARED_IMAGES)
    try:
        start = time.monotonic()
        image, built = build_image(
            nowhere, DEBIAN, progress=lambda p: print(f"image {DEBIAN}: {p}", file=sys.stderr)
        )
        BUILD_SECONDS[DEBIAN] = time.monotonic() - start if built else None
    finally:
        if saved is None:
            os.environ.pop("MAQET_TUI_IMAGES", None)
        else:
            os.environ["MAQET_TUI_IMAGES"] = saved
    return image
