"""The build pipeline around mmdebstrap, with a fake mmdebstrap on PATH that does what the real
one and the recipe's hook leave behind (a kernel, an initramfs, a raw filesystem) in a second:
phases, the cache, --force, a recipe change, failures leaving nothing, and who may build. The
real qemu-img converts; the real build is tests/integration/test_image_build.py."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from pathlib import Path

import pytest

from maqet_tui.common.errors import ConfigError, MaqetError
from maqet_tui.common.paths import Paths
from maqet_tui.common.procs import is_alive
from maqet_tui.core import image_build, image_files, image_recipe
from maqet_tui.core.image_build import ImageBuildError, build_image
from maqet_tui.core.images import list_images
from tests.helpers import wait_for

FAKE = r"""#!PYTHON
import os, pathlib, shlex, sys
args = sys.argv[1:]
hook = shlex.split(next(a for a in args if a.startswith("--customize-hook=")).split("=", 1)[1])
work = pathlib.Path(hook[3])
log = pathlib.Path(os.environ["FAKE_LOG"])
log.write_text(log.read_text() + " ".join(args) + "\n" if log.exists() else " ".join(args) + "\n")
say = lambda line: print(line, file=sys.stderr, flush=True)
say("I: running apt-get update...")
say("I: downloading packages with apt...")
if os.environ.get("FAKE_FAIL"):
    say("E: Unable to locate package " + os.environ["FAKE_FAIL"])
    say("E: mmdebstrap failed to run")
    sys.exit(1)
say("I: extracting archives...")
say("I: installing remaining packages inside the chroot...")
say("Setting up udev (252.39-1~deb12u1) ...")
say("Setting up cloud-init (22.4.2-1+deb12u3) ...")
if os.environ.get("FAKE_HANG"):  # a long step with a child of its own, like apt-get and dpkg
    import subprocess
    child = subprocess.Popen(["sleep", "60"])
    pathlib.Path(os.environ["FAKE_HANG"]).write_text(f"{os.getpid()} {child.pid}")
    child.wait()
say("MAQET-TUI: configuring the system")
(work / "vmlinuz").write_bytes(b"kernel")
(work / "initrd.img").write_bytes(b"initrd")
say("MAQET-TUI: making filesystem")
with open(work / "disk.raw", "wb") as f:
    f.truncate(32 << 20)
say("I: cleaning package lists and apt cache...")
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with the fake mmdebstrap first; returns the log of its invocations."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "mmdebstrap"
    script.write_text(FAKE.replace("PYTHON", sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls"))
    monkeypatch.setenv("MAQET_TUI_IMAGES", str(tmp_path / "images"))
    return tmp_path / "calls"


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(home=tmp_path / "home", runtime=tmp_path / "run")


def calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_build_reports_phases_then_hits_the_cache(fake: Path, paths: Paths, tmp_path: Path) -> None:
    said: list[str] = []
    image, built = build_image(paths, "debian-12", progress=said.append)
    assert built and calls(fake) == 1
    assert said[:6] == [
        "resolving packages",
        "downloading packages",
        "installing packages",
        "configuring the system",
        "making filesystem",
        "converting to qcow2",
    ]
    assert said[6].startswith("done: debian-12, ") and said[6].endswith(" s")
    assert "on disk (32.0M virtual) in " in said[6]
    argv = fake.read_text().split()
    assert "--mode=root" in argv and "--variant=apt" in argv and "bookworm" in argv
    assert any(a.startswith("--include=linux-image-cloud-amd64,") for a in argv)
    root = tmp_path / "images"
    assert names(root) == [".lock", "debian-12"]
    assert names(root / "debian-12") == ["disk.qcow2", "image.json", "initrd.img", "vmlinuz"]
    assert image.format == "qcow2" and image.virtual_size == 32 << 20
    assert image.kernel and image.kernel.read_bytes() == b"kernel"
    for p in [root / "debian-12", *(root / "debian-12").iterdir()]:
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600)

    again, built = build_image(paths, "debian-12", progress=said.append)
    assert not built and again == image and calls(fake) == 1


def test_a_long_install_shows_a_count_of_packages(
    fake: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_build, "COUNT_EVERY", 0.0)
    said: list[str] = []
    build_image(paths, "debian-12", progress=said.append)
    assert said[2:5] == [
        "installing packages",
        "installing packages (1 set up)",
        "installing packages (2 set up)",
    ]
    assert "--verbose" in fake.read_text().split()


def test_force_and_a_changed_recipe_rebuild(
    fake: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = build_image(paths, "debian-12")
    second, built = build_image(paths, "debian-12", force=True)
    assert built and calls(fake) == 2 and second.built_at > first.built_at
    more = dataclasses.replace(
        image_recipe.DEBIAN_12, packages=(*image_recipe.DEBIAN_12.packages, "vim")
    )
    monkeypatch.setitem(image_recipe.RECIPES, "debian-12", more)
    _, built = build_image(paths, "debian-12")
    assert built and calls(fake) == 3 and "vim" in fake.read_text().splitlines()[-1]
    assert not build_image(paths, "debian-12")[1]


def test_a_failed_build_leaves_nothing_and_keeps_the_old_image(
    fake: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "images"
    monkeypatch.setenv("FAKE_FAIL", "cloud-init")
    with pytest.raises(ImageBuildError) as exc:
        build_image(paths, "debian-12")
    assert str(exc.value) == "mmdebstrap failed: E: Unable to locate package cloud-init"
    assert names(root) == [".lock"]
    monkeypatch.delenv("FAKE_FAIL")
    old, _ = build_image(paths, "debian-12")
    monkeypatch.setenv("FAKE_FAIL", "udev")
    with pytest.raises(ImageBuildError):
        build_image(paths, "debian-12", force=True)
    assert names(root) == [".lock", "debian-12"] and list_images(paths) == [old]


def test_leftovers_of_a_killed_build_are_removed(fake: Path, paths: Paths, tmp_path: Path) -> None:
    root = tmp_path / "images"
    (root / ".build-debian-12-dead" / "files" / "etc").mkdir(parents=True)
    (root / ".old-debian-12-99").mkdir()
    build_image(paths, "debian-12")
    assert names(root) == [".lock", "debian-12"]


def test_unknown_recipe_and_an_imported_image_of_that_name(
    fake: Path, paths: Paths, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"^no recipe named 'ubuntu' \(recipes: debian-12\)"):
        build_image(paths, "ubuntu")
    image, _ = build_image(paths, "debian-12")
    image_files.write_metadata(
        image.disk.parent, dataclasses.replace(image, source="import:/srv/x.qcow2")
    )
    with pytest.raises(ConfigError, match="was not built from the recipe"):
        build_image(paths, "debian-12", force=True)
    assert calls(fake) == 1


def test_who_may_build(fake: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(image_files, "has_subids", lambda *a: False)
    with pytest.raises(ImageBuildError) as exc:
        image_build.build_mode()
    assert str(exc.value).startswith(
        "building an image needs root, or user namespaces for this user: ask the administrator "
        "for subordinate ids for "
    )
    monkeypatch.setattr(image_files, "has_subids", lambda *a: True)
    monkeypatch.setattr(image_build, "_userns_works", lambda: True)
    (tmp_path / "bin" / "newuidmap").symlink_to("/bin/true")
    (tmp_path / "bin" / "newgidmap").symlink_to("/bin/true")
    assert image_build.build_mode() == "unshare"
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MaqetError, match=r"^mmdebstrap is not installed \(apt-get install"):
        image_build.build_mode()


def test_an_interrupted_build_stops_all_of_mmdebstrap_and_leaves_nothing(
    fake: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    monkeypatch.setenv("FAKE_HANG", str(pids))
    said: list[str] = []

    def ctrl_c_once_installing(phase: str) -> None:
        said.append(phase)
        if phase == "installing packages":
            wait_for(pids.exists, 30, "the fake's long step")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_image(paths, "debian-12", progress=ctrl_c_once_installing)
    assert said[-1] == "interrupted: stopping mmdebstrap"
    for pid in map(int, pids.read_text().split()):  # the fake and its child: the whole group
        wait_for(lambda: not is_alive(pid), 10, f"process {pid} to go")  # noqa: B023
    assert names(tmp_path / "images") == [".lock"]


def test_who_may_not_build_still_gets_a_current_image_and_changes_nothing_else(
    fake: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    image, _ = build_image(paths, "debian-12")  # built by root
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(image_files, "has_subids", lambda *a: False)
    assert build_image(paths, "debian-12") == (image, False)
    with pytest.raises(ImageBuildError, match="needs root"):
        build_image(paths, "debian-12", force=True)
    monkeypatch.setenv("MAQET_TUI_IMAGES", str(tmp_path / "elsewhere"))
    with pytest.raises(ImageBuildError, match="needs root"):
        build_image(paths, "debian-12")
    assert not (tmp_path / "elsewhere").exists() and calls(fake) == 1
