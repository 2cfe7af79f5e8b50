"""The images directory on disk: its lock, atomic replacement, private modes, leftovers of builds
that died, and which VMs still use an image (so it is never removed or rebuilt under them).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import MaqetError, StateError
from maqet_tui.common.paths import Paths
from maqet_tui.core.images import DISK, METADATA, Image, metadata_for

LOCK = ".lock"
# A temporary directory of a build or import; one that outlived its process is removed.
TEMP_PREFIXES = (".build-", ".import-", ".old-")


@contextmanager
def locked(root: Path, say: Callable[[str], None]) -> Iterator[None]:
    """Hold the images directory's lock: builds, imports and removals take turns, whichever
    home or process they come from (a shared `$MAQET_TUI_IMAGES`)."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise MaqetError(f"cannot use images directory {root}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another build or import to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_metadata(directory: Path, image: Image, extra: dict[str, Any] | None = None) -> None:
    """`image.json`, written whole (temporary file, fsync, rename), 0600."""
    text = json.dumps(metadata_for(image, extra), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{METADATA}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, directory / METADATA)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_private(directory: Path) -> None:
    """Files 0600 and directories 0700, whatever the tools that wrote them chose."""
    os.chmod(directory, 0o700)
    for p in directory.rglob("*"):
        if not p.is_symlink():
            os.chmod(p, 0o700 if p.is_dir() else 0o600)


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` (a build killed mid-way may leave mmdebstrap's /proc)."""
    prefix = str(path.resolve())
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + "/"):
                    found.append(point)
    except OSError:
        pass
    return found


def remove_tree(path: Path) -> None:
    """Remove a temporary directory, but never through a mount point left inside it: that
    could delete the host's own files."""
    mounts = _mounts_under(path)
    if mounts:
        raise MaqetError(
            f"{path} still has {mounts[0]} mounted (left by a build that was killed); "
            f"unmount it (umount -R {mounts[0]}) and remove {path}"
        )
    shutil.rmtree(path, ignore_errors=True)


def remove_stale(root: Path) -> None:
    """Leftovers of builds and imports that died (only called with the lock held, so no live
    build owns them)."""
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith(TEMP_PREFIXES):
            remove_tree(p)


def replace_dir(new: Path, final: Path) -> None:
    """Put the complete image directory `new` in place of `final` (if any). A reader sees the
    old image, then the new one; in between (two renames) it sees none, never a mixture."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, old)
    os.rename(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def has_subids(path: str, user: str, uid: int) -> bool:
    """Whether /etc/subuid (or subgid) grants `user` a range of at least 65536 ids."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in (user, str(uid)) and int(parts[2]) >= 65536:
                    return True
    except (OSError, ValueError):
        return False
    return False


def qcow2_backing(path: Path) -> str | None:
    """The backing file a qcow2 header names (read directly: no qemu-img process per disk)."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
            if len(header) < 20 or header[:4] != b"QFI\xfb":
                return None
            offset, size = struct.unpack(">QI", header[8:20])
            if not offset or not 0 < size <= 4096:
                return None
            f.seek(offset)
            return f.read(size).decode(errors="replace")
    except OSError:
        return None


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def vms_using(paths: Paths, directory: Path) -> list[str]:
    """Names of this home's VMs whose definition uses the image in `directory`: its `image` key
    names it, a path in it points into the directory, or one of its qcow2 disks is backed by the
    image's disk."""
    if not paths.db.exists():
        return []
    from maqet_tui.store import models as store

    store.open_db(paths.db)
    target = directory.resolve()
    disk = target / DISK
    users = []
    for vm in store.all_vms():
        config = vm.to_dict()["config"]
        hit = isinstance(config, dict) and config.get("image") == directory.name
        for s in _strings(config):
            if hit:
                break
            if s.startswith("/") and (target == Path(s) or target in Path(s).parents):
                hit = True
            elif s.startswith("/") and s.endswith(".qcow2") and Path(s).is_file():
                backing = qcow2_backing(Path(s))
                hit = backing is not None and _same_file(Path(s).parent, backing, disk)
        if hit:
            users.append(vm.name)
    return users


def _same_file(base: Path, backing: str, disk: Path) -> bool:
    p = Path(backing)
    p = p if p.is_absolute() else base / p
    try:
        return p.resolve() == disk or (p.exists() and disk.exists() and p.samefile(disk))
    except OSError:
        return False


def refuse_if_used(paths: Paths, directory: Path, doing: str = "rebuild") -> None:
    """StateError naming the VMs of this home that use the image, if any."""
    users = vms_using(paths, directory)
    if users:
        shown = ", ".join(users[:5]) + (", ..." if len(users) > 5 else "")
        raise StateError(
            f"cannot {doing} image {directory.name!r}: used by VM {shown} "
            "(its disk is backed by the image; remove the VM first: maqet-tui rm NAME)"
        )
