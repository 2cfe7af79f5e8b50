"""`image build NAME`: a bootable disk image made from the Debian package registry alone.

`mmdebstrap` installs the recipe's packages into a temporary root; a hook it runs at the end
writes the recipe's files, then makes the ext4 filesystem from that root (`mke2fs -d`, no
partition table: the guest's root is /dev/vda) and copies the kernel and initramfs out. The raw
filesystem becomes `disk.qcow2` (`qemu-img convert`). All of it happens in a `.build-*`
directory next to the images, renamed into place only when complete, so an interrupted or
failed build leaves nothing behind but that directory, which the next build removes.

Root builds directly; anyone else needs user namespaces with subordinate ids (`--mode=unshare`),
and is told in one line what to ask the administrator for when they are missing. The hook runs
`mke2fs` inside mmdebstrap's namespace, where the root's files are owned by root, and on a bind
mount of the root (not its mounted /proc, /sys and /dev).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from maqet_tui.common.errors import ConfigError, MaqetError, clip
from maqet_tui.common.paths import Paths
from maqet_tui.core import image_files
from maqet_tui.core.disks import image_info
from maqet_tui.core.image_recipe import FORMAT_VERSION, RECIPES, Recipe, recipe_hash
from maqet_tui.core.images import (
    DISK,
    INITRD,
    KERNEL,
    METADATA,
    Image,
    human_size,
    images_dir,
    read_image,
)

Progress = Callable[[str], None]
COUNT_EVERY = 10.0

# mmdebstrap's own progress lines, and what a user is told for each.
_PHASES = (
    ("I: running apt-get update", "resolving packages"),
    ("I: downloading packages", "downloading packages"),
    ("I: extracting archives", "installing packages"),
    ("I: installing remaining packages", "installing packages"),
    ("MAQET-TUI: ", ""),  # the hook's own lines, passed on as they are
)

HOOK = """\
set -eu
root="$1"; work="$2"; size="$3"
echo "MAQET-TUI: configuring the system" >&2
cp -r "$work/files/." "$root/"
for unit in $(cat "$work/masked"); do ln -sf /dev/null "$root/etc/systemd/system/$unit"; done
rm -f "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
chroot "$root" systemctl enable --quiet systemd-networkd systemd-resolved
if ! grep -qs '^CONFIG_VIRTIO_BLK=y' "$root"/boot/config-*; then
    if ! chroot "$root" sh -c 'lsinitramfs /boot/initrd.img-*' | grep -q 'virtio_blk'; then
        echo "MAQET-TUI: rebuilding the initramfs" >&2
        chroot "$root" update-initramfs -u -k all >/dev/null
    fi
fi
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
echo "MAQET-TUI: making filesystem" >&2
mkdir "$work/mnt"
unshare --mount --propagation private sh -ec '
    mount --bind "$1" "$2/mnt"
    mke2fs -q -F -t ext4 -L root -d "$2/mnt" "$2/disk.raw" "$3"
    umount "$2/mnt"' sh "$root" "$work" "$size"
rmdir "$work/mnt"
"""


class ImageBuildError(MaqetError):
    """A build failed; the message names the step and quotes the tool's last words."""


def recipe_for(name: str) -> Recipe:
    recipe = RECIPES.get(name)
    if recipe is None:
        raise ConfigError(
            f"no recipe named {clip(name)} (recipes: {', '.join(sorted(RECIPES))}); "
            "to add an image you already have: maqet-tui image import NAME FILE"
        )
    return recipe


def cached(directory: Path, recipe: Recipe) -> Image | None:
    """The image already built from exactly this recipe, if `directory` holds it intact."""
    image = read_image(directory)
    if image is None:
        return None
    try:
        meta = json.loads((directory / METADATA).read_text())
        same = meta.get("recipe") == recipe_hash(recipe)
        whole = all(p.is_file() for p in (image.disk, image.kernel, image.initrd) if p)
    except (OSError, ValueError):
        return None
    return image if same and whole else None


def build_mode() -> str:
    """`root` for root; `unshare` when user namespaces work; else a one-line error saying what
    the administrator can grant."""
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    if os.geteuid() == 0:
        return "root"
    user = _user_name()
    ids = [image_files.has_subids(f, user, os.getuid()) for f in ("/etc/subuid", "/etc/subgid")]
    helpers = shutil.which("newuidmap") and shutil.which("newgidmap")
    ok = all(ids) and helpers and _userns_works()
    if not ok:
        raise ImageBuildError(
            "building an image needs root, or user namespaces for this user: ask the "
            f"administrator for subordinate ids for {user} in /etc/subuid and /etc/subgid "
            "(usermod --add-subuids/--add-subgids) and the uidmap package, or to build it "
            "as root into a shared $MAQET_TUI_IMAGES directory"
        )
    return "unshare"


def _user_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _userns_works() -> bool:
    try:
        r = subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True)
    except OSError:
        return False
    return r.returncode == 0


def _stage(work: Path, recipe: Recipe, mode: str) -> list[str]:
    """The hook's inputs in `work`, and mmdebstrap's argv."""
    for path, text in recipe.files.items():
        target = work / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o644)
    for d in (work / "files").rglob("*"):
        if d.is_dir():
            d.chmod(0o755)
    (work / "masked").write_text("\n".join(recipe.masked_units) + "\n")
    (work / "hook.sh").write_text(HOOK)
    hook = f'sh {shlex.quote(str(work / "hook.sh"))} "$1" {shlex.quote(str(work))} '
    hook += shlex.quote(recipe.disk_size)
    return [
        "mmdebstrap",
        f"--mode={mode}",
        "--variant=apt",
        "--verbose",  # dpkg's "Setting up" lines: the progress shown while packages install
        "--format=null",
        f"--include={','.join(recipe.packages)}",
        *(f"--dpkgopt={opt}" for opt in recipe.dpkg_options),
        # No fsync per unpacked file: the root is scratch until mke2fs copies it. Outside the
        # recipe (and its hash) since the image it makes is the same.
        "--dpkgopt=force-unsafe-io",
        f"--customize-hook={hook}",
        recipe.suite,
        "/dev/null",
        *recipe.mirrors,
    ]


def _run_mmdebstrap(argv: list[str], work: Path, report: Progress) -> float:
    """Run the build; returns when (time.monotonic) the packages were installed and the hook
    began: what plain mmdebstrap costs, the baseline the build benchmark compares against."""
    env = {**os.environ, "LC_ALL": "C", "TMPDIR": str(work)}
    last: deque[str] = deque(maxlen=40)
    phases = _Phases(report)
    try:
        # Its own session: an interruption stops all of it (apt-get and dpkg included) at once,
        # rather than mmdebstrap alone, which waits for its running step to finish first.
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise ImageBuildError(f"cannot run mmdebstrap: {exc.strerror}") from None
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            line = line.rstrip()
            last.append(line)
            phases.line(line)
        rc = proc.wait()
    except BaseException:
        report("interrupted: stopping mmdebstrap")
        _stop(proc)
        raise
    if rc != 0:
        why = [ln for ln in last if ln.startswith("E:") and "mmdebstrap failed" not in ln]
        words = [ln for ln in last if ln and not ln.startswith(("I:", "Setting up "))]
        raise ImageBuildError(f"mmdebstrap failed: {(why or words or [f'status {rc}'])[-1]}")
    return phases.installed or time.monotonic()


class _Phases:
    """mmdebstrap's stderr (--verbose) as the few phases a user is shown, with a count of the
    packages set up every COUNT_EVERY seconds while dpkg works (a minute or more)."""

    def __init__(self, report: Progress) -> None:
        self.report = report
        self.said = "resolving packages"
        self.shown = time.monotonic()
        self.set_up = 0
        self.installed = 0.0  # when the packages were all in (the hook began)

    def say(self, phase: str) -> None:
        counting = phase == "installing packages" and self.said.startswith(phase)
        if phase != self.said and not counting:
            self.report(phase)
            self.said, self.shown = phase, time.monotonic()

    def line(self, line: str) -> None:
        if line.startswith("Setting up "):
            self.set_up += 1
            if time.monotonic() - self.shown >= COUNT_EVERY:
                self.say(f"installing packages ({self.set_up} set up)")
            return
        for prefix, phase in _PHASES:
            if line.startswith(prefix):
                if prefix.startswith("MAQET") and not self.installed:
                    self.installed = time.monotonic()
                self.say(phase or line.removeprefix(prefix))


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to the build's whole process group: mmdebstrap unmounts what it mounted once its
    children are gone. SIGKILL only if that takes over a minute (a mount may then be left, which
    the cleanup reports rather than deletes through)."""
    for sig, grace in ((signal.SIGTERM, 60.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def _convert(work: Path) -> None:
    try:
        r = subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "disk.raw", DISK],
            cwd=work,
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        raise ImageBuildError(f"cannot run qemu-img: {exc.strerror}") from None
    if r.returncode != 0:
        raise ImageBuildError(f"qemu-img convert failed: {r.stderr.strip().splitlines()[-1:]}")
    (work / "disk.raw").unlink()


def _finish(work: Path, recipe: Recipe, timings: dict[str, float]) -> Image:
    """Strip the build's scratch files from `work` and write its image.json (the commit record)."""
    for scratch in ("files", "hook.sh", "masked"):
        p = work / scratch
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    info = image_info(work / DISK)
    image = Image(
        name=recipe.name,
        format=str(info["format"]),
        virtual_size=int(info["virtual-size"]),
        disk=work / DISK,
        kernel=work / KERNEL,
        initrd=work / INITRD,
        append=recipe.append,
        user=recipe.user,
        built_at=time.time(),
        source=f"build:{recipe.name}",
    )
    extra = {"recipe": recipe_hash(recipe), "format_version": FORMAT_VERSION, **timings}
    image_files.write_metadata(work, image, extra)
    return image


def build_image(
    paths: Paths, name: str, force: bool = False, progress: Progress | None = None
) -> tuple[Image, bool]:
    """The image `name`, built now unless an intact build of the same recipe exists (or
    `force`). Returns it and whether it was built. Safe against concurrent builds."""
    report: Progress = progress or (lambda phase: None)
    recipe = recipe_for(name)
    root = images_dir(paths)
    final = root / recipe.name
    # A current image needs no lock and no privilege: a user who may not build (or write the
    # directory) still gets the image someone else built.
    if not force and (image := cached(final, recipe)) is not None:
        return image, False
    mode = build_mode()  # before anything is created: one line saying what is missing
    with image_files.locked(root, report):
        if not force and (image := cached(final, recipe)) is not None:
            return image, False  # built meanwhile by the holder of the lock
        existing = read_image(final)
        if existing is not None and existing.source != f"build:{recipe.name}":
            raise ConfigError(
                f"image {recipe.name!r} exists and was not built from the recipe "
                f"({existing.source}); remove it first: maqet-tui image rm {recipe.name}"
            )
        image_files.refuse_if_used(paths, final)
        image_files.remove_stale(root)
        start = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f".build-{recipe.name}-", dir=root))
        try:
            argv = _stage(work, recipe, mode)
            report("resolving packages")
            installed = _run_mmdebstrap(argv, work, report)
            report("converting to qcow2")
            _convert(work)
            image_files.make_private(work)
            timings = {
                "install_seconds": round(installed - start, 2),
                "build_seconds": round(time.monotonic() - start, 2),
            }
            _finish(work, recipe, timings)
            image_files.replace_dir(work, final)
        except BaseException:
            image_files.remove_tree(work)
            raise
        image = read_image(final)
        if image is None:
            raise ImageBuildError(f"the built image in {final} cannot be read back")
        used = image.disk.stat().st_blocks * 512
        report(
            f"done: {image.name}, {human_size(used)} on disk ({human_size(image.virtual_size)} "
            f"virtual) in {time.monotonic() - start:.0f} s"
        )
        return image, True
