"""Disk images VMs are made from: where they live, what each one is, and finding one by name.

An image is a directory `IMAGES/NAME/` holding `image.json` (the metadata, written last: a
directory without it is not an image) and `disk.qcow2`, plus `vmlinuz` and `initrd.img` when the
image was built here and boots directly (imported images boot through firmware). Images are
shared, read-only bases: a VM gets a qcow2 overlay backed by `disk.qcow2`, never the file itself,
so one image serves every home that points `$MAQET_TUI_IMAGES` at the same directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, NotFoundError, clip
from maqet_tui.common.ids import NAME_RE, NAME_RULE
from maqet_tui.common.paths import Paths

METADATA = "image.json"
DISK = "disk.qcow2"
KERNEL = "vmlinuz"
INITRD = "initrd.img"
# Image names become directory names: the same rule as VM names, so nothing needs quoting.


@dataclass(frozen=True)
class Image:
    """One image as `image.json` describes it; paths are absolute.

    `source` says where it came from: `build:RECIPE` or `import:ORIGINAL-PATH`. `user` is the
    account cloud-init creates (None when unknown, e.g. an imported image). `built_at` is Unix
    seconds."""

    name: str
    format: str
    virtual_size: int
    disk: Path
    kernel: Path | None
    initrd: Path | None
    append: str | None
    user: str | None
    built_at: float
    source: str


def human_size(n: float) -> str:
    """Bytes as `image ls` shows them: 4.0G, 64.0M, 512B (binary units)."""
    for unit in ("B", "K", "M", "G"):
        if n < 1024:
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}T"


def images_dir(paths: Paths) -> Path:
    """`$MAQET_TUI_IMAGES` when set (several homes, CI or tests share one), else `HOME/images`."""
    env = os.environ.get("MAQET_TUI_IMAGES")
    if env:
        return Path(env).expanduser().absolute()
    return paths.home / "images"


def check_name(name: str) -> str:
    """An image name: 1-63 letters, digits, `.`, `_` or `-`, starting with a letter or digit."""
    if not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"invalid image name {clip(name)}: use {NAME_RULE}",
            field="image",
        )
    return name


def image_to_json(image: Image) -> dict[str, Any]:
    """The object `image ls --json` prints (and `image.json` stores, with relative file names)."""
    return {
        "name": image.name,
        "format": image.format,
        "virtual_size": image.virtual_size,
        "path": str(image.disk),
        "built_at": image.built_at,
        "source": image.source,
        "user": image.user,
        "kernel": str(image.kernel) if image.kernel else None,
        "initrd": str(image.initrd) if image.initrd else None,
        "append": image.append,
    }


def metadata_for(image: Image, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `image.json` holds: file names relative to the image's directory, so a directory
    of images can be moved or shared under another path."""
    meta = image_to_json(image)
    meta["path"] = image.disk.name
    meta["kernel"] = image.kernel.name if image.kernel else None
    meta["initrd"] = image.initrd.name if image.initrd else None
    return meta | (extra or {})


def parse_metadata(directory: Path, meta: object) -> Image:
    """An Image from `image.json`'s parsed content; ValueError names what is wrong."""
    if not isinstance(meta, dict):
        raise ValueError("not a JSON object")

    def text(key: str, optional: bool = False) -> str | None:
        value = meta.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key!r} is missing or not a string")
        return value

    def file(key: str, optional: bool = False) -> Path | None:
        value = text(key, optional)
        if value is None:
            return None
        if "/" in value or value in (".", ".."):
            raise ValueError(f"{key!r} must be a file name in the image's directory")
        return directory / value

    size = meta.get("virtual_size")
    built = meta.get("built_at")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError("'virtual_size' is not a byte count")
    if not isinstance(built, int | float) or isinstance(built, bool):
        raise ValueError("'built_at' is not a number")
    disk = file("path")
    assert disk is not None
    return Image(
        name=str(text("name")),
        format=str(text("format")),
        virtual_size=size,
        disk=disk,
        kernel=file("kernel", optional=True),
        initrd=file("initrd", optional=True),
        append=text("append", optional=True),
        user=text("user", optional=True),
        built_at=float(built),
        source=str(text("source")),
    )


def read_image(directory: Path) -> Image | None:
    """The image in `directory`, or None when it holds no (complete, readable) image."""
    try:
        meta = json.loads((directory / METADATA).read_text())
        image = parse_metadata(directory, meta)
    except (OSError, ValueError):
        return None
    return image if image.name == directory.name else None


def list_images(paths: Paths) -> list[Image]:
    """Every complete image, by name. Temporary build directories (dot-names) are skipped."""
    root = images_dir(paths)
    try:
        entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    except OSError:
        return []
    return [img for d in entries if d.is_dir() and (img := read_image(d)) is not None]


def get_image(paths: Paths, name: str) -> Image:
    """The image called `name`; NotFoundError lists the images there are."""
    if NAME_RE.fullmatch(name):
        image = read_image(images_dir(paths) / name)
        if image is not None:
            return image
    names = [i.name for i in list_images(paths)]
    have = f"images: {', '.join(names)}" if names else "no images yet: maqet-tui image build"
    raise NotFoundError(f"no image named {clip(name)} ({have})")
