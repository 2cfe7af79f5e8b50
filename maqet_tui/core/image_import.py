"""`image import NAME FILE` and `image rm NAME`: images the user already has, and removing one.

An imported image is a qcow2 or raw disk (a distribution's cloud image, say) that boots through
the firmware: it has no kernel beside it. It is copied (reflinked where the filesystem can) or,
when raw, converted to qcow2, so every image's disk is `disk.qcow2` and a VM's overlay always
names a qcow2 backing file. qemu-img calls any file "raw", so a raw file must show a partition
table or a filesystem to count as a disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from maqet_tui.common.errors import ConfigError, MaqetError, clip
from maqet_tui.common.paths import Paths
from maqet_tui.core import image_files
from maqet_tui.core.disks import image_info
from maqet_tui.core.images import DISK, Image, check_name, get_image, images_dir, read_image

IMPORT_FORMATS = ("qcow2", "raw")

# (offset, magic): what a raw disk starts with. MBR/GPT boot signature, ext2/3/4, XFS, btrfs,
# ISO 9660.
_RAW_MAGIC = (
    (510, b"\x55\xaa"),
    (1080, b"\x53\xef"),
    (0, b"XFSB"),
    (65600, b"_BHRfS_M"),
    (32769, b"CD001"),
)


def looks_like_disk(path: Path) -> bool:
    """Whether a raw file starts like a disk or a filesystem (not just any bytes)."""
    try:
        with open(path, "rb") as f:
            for offset, magic in _RAW_MAGIC:
                f.seek(offset)
                if f.read(len(magic)) == magic:
                    return True
    except OSError:
        return False
    return False


def _inspect(file: Path) -> dict[str, object]:
    """qemu-img's view of `file`, or a one-line error saying why it is not an importable image."""
    if not file.exists():
        raise ConfigError(f"no such file: {clip(str(file))}")
    if not file.is_file():
        raise ConfigError(f"{clip(str(file))} is not a regular file")
    if not os.access(file, os.R_OK):
        raise ConfigError(f"cannot read {clip(str(file))}: permission denied")
    try:
        info = image_info(file)
    except MaqetError:
        raise ConfigError(f"{clip(str(file))} is not a disk image qemu-img can read") from None
    fmt = info.get("format")
    if fmt not in IMPORT_FORMATS:
        raise ConfigError(
            f"{clip(str(file))} is a {fmt} image; import takes qcow2 or raw "
            f"(convert it first: qemu-img convert -O qcow2 FILE NEW.qcow2)"
        )
    if info.get("backing-filename"):
        raise ConfigError(
            f"{clip(str(file))} has a backing file; flatten it first: "
            "qemu-img convert -O qcow2 FILE NEW.qcow2"
        )
    if fmt == "raw" and not looks_like_disk(file):
        raise ConfigError(
            f"{clip(str(file))} is not a disk image (no partition table or filesystem in it)"
        )
    return info


def _copy_in(file: Path, fmt: str, target: Path) -> None:
    if fmt == "qcow2":
        argv = ["cp", "--reflink=auto", "--sparse=always", "--", str(file), str(target)]
    else:
        argv = ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(file), str(target)]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, umask=0o077)
    except OSError as exc:
        raise MaqetError(f"cannot run {argv[0]}: {exc.strerror}") from None
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        raise MaqetError(
            f"copying {clip(str(file))} failed: {lines[-1] if lines else r.returncode}"
        )


def import_image(paths: Paths, name: str, file: Path, user: str | None = None) -> Image:
    """Add `file` as the image `name`; nothing is changed when anything is wrong with either."""
    check_name(name)
    if user is not None and not user.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"invalid user name {clip(user)}")
    file = file.expanduser().absolute()
    info = _inspect(file)
    root = images_dir(paths)
    with image_files.locked(root, lambda _: None):
        final = root / name
        if final.exists():
            raise ConfigError(
                f"image {name!r} already exists (maqet-tui image rm {name} removes it)",
                field="image",
            )
        image_files.remove_stale(root)
        work = Path(tempfile.mkdtemp(prefix=f".import-{name}-", dir=root))
        try:
            _copy_in(file, str(info["format"]), work / DISK)
            copied = image_info(work / DISK)
            image = Image(
                name=name,
                format=str(copied["format"]),
                virtual_size=int(copied["virtual-size"]),
                disk=work / DISK,
                kernel=None,
                initrd=None,
                append=None,
                user=user,
                built_at=time.time(),
                source=f"import:{file}",
            )
            image_files.make_private(work)
            image_files.write_metadata(work, image, {"imported_format": info["format"]})
            os.rename(work, final)
        except BaseException:
            image_files.remove_tree(work)
            raise
    result = read_image(final)
    assert result is not None
    return result


def remove_image(paths: Paths, name: str) -> Image:
    """Delete the image `name`, refused while a VM of this home uses it."""
    image = get_image(paths, name)
    root = images_dir(paths)
    with image_files.locked(root, lambda _: None):
        directory = root / image.name
        image_files.refuse_if_used(paths, directory, doing="remove")
        gone = root / f".old-{image.name}-{os.getpid()}"
        os.rename(directory, gone)  # the image disappears at once, whole
        shutil.rmtree(gone, ignore_errors=True)
    return image
