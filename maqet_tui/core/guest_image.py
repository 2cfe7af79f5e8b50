"""A tiny real Linux guest (Debian kernel + busybox initramfs) built once per machine and cached.

Tests and demos need a guest that boots in seconds under TCG, answers on its serial console and
honours ACPI power-down, without a disk image checked into the repository or a root install. The
kernel and busybox come from the host's apt sources (`apt-get download`, nothing is installed and
/boot is untouched); the initramfs is written here in pure Python because hosts lack `cpio`.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from maqet_tui.common.errors import MaqetError

READY_LINE = "MAQET GUEST READY"
# Not `quiet`: the kernel's boot messages are how a newcomer sees Linux boot in the Console pane;
# measured, the ~320 lines cost nothing noticeable against a ~5 s TCG boot.
KERNEL_APPEND = "console=ttyS0"
# Bump when the layout changes in a way the recipe hash below cannot see (e.g. cpio entry order).
FORMAT_VERSION = 1
KERNEL_META = "linux-image-amd64"
BUSYBOX_PACKAGE = "busybox-static"
# Loaded in this order: input events first, so the power button gets an event node; then the
# virtio stack, so disks attached to the demo VM show up as /dev/vda... (all modules in Debian).
MODULES = (
    "evdev",
    "button",
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
)
REQUIRED_MODULES = ("evdev", "button")  # the others may be built into another kernel
_APPLET_WORDS = """sh mount umount echo cat sleep usleep insmod lsmod poweroff reboot acpid setsid
cttyhack grep mkdir uname ls ps dmesg kill cp mv rm ln touch free df uptime head tail sync"""
APPLETS = tuple(_APPLET_WORDS.split())

# acpid writes its pidfile only after it has opened /dev/input/event*, so waiting for the pidfile
# makes the ready line mean "system_powerdown will work from now on" (bounded: 5 s).
INIT_SCRIPT = f"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /var/log /var/run
for m in {" ".join(MODULES)}; do
    [ -e /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
if ! grep -qw noacpid /proc/cmdline; then
    acpid -f -c /etc/acpi >/dev/null 2>&1 &
    n=0
    while [ ! -e /var/run/acpid.pid ] && [ $n -lt 500 ]; do usleep 10000; n=$((n+1)); done
fi
read -r up idle < /proc/uptime
echo "{READY_LINE} $up" > /dev/ttyS0
while true; do setsid cttyhack sh; done
"""
POWER_BUTTON_SCRIPT = "#!/bin/sh\npoweroff -f\n"
_RECIPE = hashlib.sha256(
    "\0".join((INIT_SCRIPT, POWER_BUTTON_SCRIPT, *APPLETS, *MODULES)).encode()
).hexdigest()
# Merged-/usr kernels keep modules under usr/lib, and newer ones compress them with xz.
_KERNEL_FILES = re.compile(
    r"boot/vmlinuz-.*|(usr/)?lib/modules/[^/]+/kernel/drivers/"
    r"(input/evdev|acpi/button|virtio/virtio(_ring|_pci|_pci_legacy_dev|_pci_modern_dev)?"
    r"|block/virtio_blk)\.ko(\.xz)?"
)
_STALE_LISTS = re.compile("Unable to locate|No packages found|no installation candidate|404")

Progress = Callable[[str, float | None], None]


class GuestImageError(MaqetError):
    """Building the guest failed; the message names the step and quotes the tool's last words."""


@dataclass(frozen=True)
class GuestImage:
    kernel: Path
    initrd: Path
    kernel_version: str


@dataclass(frozen=True)
class CpioEntry:
    """One archive member; `mode` carries the file type bits, as st_mode does."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def cpio_newc(entries: Iterable[CpioEntry]) -> bytes:
    """The kernel's initramfs unpacker reads only "newc"; parents must precede their children."""
    out = bytearray()

    def put(ino: int, e: CpioEntry) -> None:
        name = e.name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(e.mode) else 1
        fields = (ino, e.mode, 0, 0, nlink, 0, len(e.data), 0, 0, *e.rdev, len(name), 0)
        out.extend(b"070701" + "".join(f"{f:08X}" for f in fields).encode() + name)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(e.data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, entry in enumerate(entries, start=1):
        put(ino, entry)
    put(0, CpioEntry("TRAILER!!!", 0))
    return bytes(out)


def default_cache_dir() -> Path:
    """The one guest cache every home, ./scripts/run, ./scripts/test and the tests share, so the
    guest is built once per user: `$MAQET_TUI_GUEST_CACHE`, else `$XDG_CACHE_HOME/maqet-tui/guest`
    (`~/.cache/maqet-tui/guest`). It only holds what can be rebuilt, hence a cache directory."""
    env = os.environ.get("MAQET_TUI_GUEST_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "maqet-tui" / "guest"


def _last_line(text: str) -> str:
    """apt ends with warnings after its "E:" line, so the error line wins over the last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E:")]
    return (errors or lines or [""])[-1]


def _run(step: str, argv: list[str], cwd: Path | None = None) -> str:
    try:
        # LC_ALL=C: apt's messages must stay matchable (_STALE_LISTS) and quotable.
        env = {**os.environ, "LC_ALL": "C"}
        r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise GuestImageError(f"{step} failed: cannot run {argv[0]}: {exc.strerror}") from None
    if r.returncode != 0:
        why = _last_line(r.stderr) or f"{argv[0]} exited with status {r.returncode}"
        raise GuestImageError(f"{step} failed: {why}")
    return r.stdout


def _resolve_kernel() -> str:
    out = _run("resolving kernel package", ["apt-cache", "depends", KERNEL_META])
    for line in out.splitlines():
        kind, _, dep = line.strip().partition(":")
        dep = dep.strip().strip("<>")
        if kind.lstrip("|") == "Depends" and dep.startswith("linux-image-"):
            return dep
    raise GuestImageError(f"resolving kernel package failed: {KERNEL_META} depends on no kernel")


def _download_once(work: Path, report: Progress) -> tuple[str, Path, Path]:
    report("resolving kernel package", 0.0)
    kernel = _resolve_kernel()
    sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []  # else a warning
    debs: list[Path] = []
    for pkg, fraction in ((kernel, 0.05), (BUSYBOX_PACKAGE, 0.6)):
        report(f"downloading {pkg}", fraction)
        _run(f"downloading {pkg}", ["apt-get", *sandbox, "download", pkg], cwd=work)
        found = sorted(work.glob(f"{pkg}_*.deb"))
        if not found:
            raise GuestImageError(f"downloading {pkg} failed: apt-get wrote no {pkg}_*.deb")
        debs.append(found[-1])
    return kernel, debs[0], debs[1]


def _download_all(work: Path, report: Progress) -> tuple[str, Path, Path]:
    """Fresh machines have no apt lists and old ones name kernels the mirror dropped (404)."""
    try:
        return _download_once(work, report)
    except GuestImageError as exc:
        if not _STALE_LISTS.search(str(exc)):
            raise
    report("updating package lists", None)
    _run("updating package lists", ["apt-get", "update"])
    return _download_once(work, report)


def _extract(deb: Path, pick: Callable[[str], str | None]) -> dict[str, bytes]:
    """Stream the data tar: the kernel package unpacks to 400 MB and we need three files of it."""
    step = f"unpacking {deb.name}"
    found: dict[str, bytes] = {}
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=err
            )
        except OSError as exc:
            raise GuestImageError(f"{step} failed: cannot run dpkg-deb: {exc.strerror}") from None
        assert proc.stdout is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    key = pick(member.name.removeprefix("./"))
                    f = tar.extractfile(member) if key and member.isfile() else None
                    if key and f:
                        found[key] = f.read()
        except tarfile.TarError as exc:
            proc.kill()
            raise GuestImageError(f"{step} failed: {exc}") from None
        finally:
            proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            why = _last_line(err.read().decode(errors="replace")) or f"dpkg-deb exited with {rc}"
            raise GuestImageError(f"{step} failed: {why}")
    return found


def _fetch_parts(work: Path, report: Progress) -> tuple[dict[str, str], dict[str, bytes]]:
    """Manifest facts, and file contents keyed vmlinuz, busybox, evdev, button."""
    pkg, kernel_deb, busybox_deb = _download_all(work, report)
    report("unpacking", 0.65)
    found = _extract(kernel_deb, lambda n: n if _KERNEL_FILES.fullmatch(n) else None)
    found |= _extract(busybox_deb, lambda n: n if n == "bin/busybox" else None)
    meta = {"kernel_package": pkg, "busybox_version": unquote(busybox_deb.name.split("_")[1])}
    files: dict[str, bytes] = {}
    for name, data in found.items():
        base = name.rsplit("/", 1)[-1]
        if base.startswith("vmlinuz-"):
            meta["kernel_version"] = base.removeprefix("vmlinuz-")
        files[base.split("-")[0].split(".")[0]] = (
            lzma.decompress(data) if base.endswith(".xz") else data
        )
    missing = {"vmlinuz", "busybox", *REQUIRED_MODULES} - files.keys()
    if missing:
        raise GuestImageError(f"unpacking failed: no {', '.join(sorted(missing))} in the packages")
    return meta, files


def initramfs_entries(busybox: bytes, modules: dict[str, bytes]) -> list[CpioEntry]:
    d, f, ln = stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK
    dirs = "bin dev etc etc/acpi etc/acpi/PWRF lib lib/modules proc sys var var/log var/run root"
    return [
        *(CpioEntry(name, d | 0o755) for name in dirs.split()),
        CpioEntry("tmp", d | 0o1777),
        # The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
        CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
        CpioEntry("bin/busybox", f | 0o755, busybox),
        *(CpioEntry(f"bin/{a}", ln | 0o777, b"busybox") for a in APPLETS),
        *(CpioEntry(f"lib/modules/{m}.ko", f | 0o644, modules[m]) for m in MODULES if m in modules),
        CpioEntry("etc/acpi/PWRF/00000080", f | 0o755, POWER_BUTTON_SCRIPT.encode()),
        CpioEntry("init", f | 0o755, INIT_SCRIPT.encode()),
    ]


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers only ever see a complete old file or a complete new one, even after a crash."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cached(cache_dir: Path) -> GuestImage | None:
    try:
        m = json.loads((cache_dir / "manifest.json").read_text())
        image = GuestImage(cache_dir / "vmlinuz", cache_dir / "initrd.gz", m["kernel_version"])
        ok = (
            m["format"] == FORMAT_VERSION
            and m["recipe"] == _RECIPE
            and image.kernel.stat().st_size == m["kernel_size"]
            and image.initrd.stat().st_size == m["initrd_size"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return image if ok else None


def _build(cache_dir: Path, report: Progress) -> GuestImage:
    # The manifest is the commit record: drop it first, write it last.
    (cache_dir / "manifest.json").unlink(missing_ok=True)
    for stale in cache_dir.glob(".build-*"):  # left by a build that was killed
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        meta, files = _fetch_parts(work, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("building initramfs", 0.9)
    cpio = cpio_newc(initramfs_entries(files["busybox"], files))
    initrd = gzip.compress(cpio, compresslevel=9, mtime=0)
    image = GuestImage(cache_dir / "vmlinuz", cache_dir / "initrd.gz", meta["kernel_version"])
    manifest = {"format": FORMAT_VERSION, "recipe": _RECIPE, **meta}
    manifest |= {"kernel_size": len(files["vmlinuz"]), "initrd_size": len(initrd)}
    try:
        _write_atomic(image.kernel, files["vmlinuz"])
        _write_atomic(image.initrd, initrd)
        _write_atomic(cache_dir / "manifest.json", json.dumps(manifest, indent=2).encode())
    except OSError as exc:
        raise GuestImageError(f"writing guest image to {cache_dir} failed: {exc}") from None
    return image


def ensure_guest(cache_dir: Path, progress: Progress | None = None) -> GuestImage:
    """Return the cached guest, building it first if needed; safe for concurrent processes."""
    report: Progress = progress or (lambda step, fraction: None)
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lock = os.open(cache_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise GuestImageError(f"cannot use guest cache {cache_dir}: {exc.strerror}") from None
    try:
        # flock, not lockf: it also excludes threads of one process, each with its own open().
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report("waiting for another build of the guest", None)
            fcntl.flock(lock, fcntl.LOCK_EX)
        image = _cached(cache_dir) or _build(cache_dir, report)
    finally:
        os.close(lock)
    report("done", 1.0)
    return image


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m maqet_tui.core.guest_image [CACHE_DIR]", file=sys.stderr)
        return 0 if args[0] in ("-h", "--help") else 2

    def show(step: str, fraction: float | None) -> None:
        print(step if fraction is None else f"[{fraction:4.0%}] {step}", file=sys.stderr)

    try:
        image = ensure_guest(Path(args[0]) if args else default_cache_dir(), show)
    except MaqetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(image.kernel)
    print(image.initrd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
