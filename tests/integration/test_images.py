"""`image import | ls | rm` on the command line, with small images made here (no build, no boot):
what each accepts, what each refuses in one line without changing anything, and that an image a
VM's disk is backed by cannot be removed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core.image_files import qcow2_backing
from maqet_tui.core.manager import Manager
from tests.helpers import Env, run_cli


@pytest.fixture
def images(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private images directory: these tests never touch the suite's shared one."""
    d = tmp_path / "images"
    monkeypatch.setenv("MAQET_TUI_IMAGES", str(d))
    return d


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def raw_disk(path: Path, size: int = 8 << 20) -> Path:
    """A sparse raw file with an MBR boot signature: what qemu-img calls raw and is a disk."""
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(510)
        f.write(b"\x55\xaa")
    return path


def ls_json(env: Env) -> list[dict[str, Any]]:
    done = run_cli(env, "image", "ls", "--json")
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


def snapshot(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []


def test_import_qcow2_and_raw_then_ls_and_rm(env: Env, images: Path, tmp_path: Path) -> None:
    qemu_img("create", "-q", "-f", "qcow2", str(tmp_path / "cloud.qcow2"), "64M")
    raw = raw_disk(tmp_path / "disk.img")
    done = run_cli(
        env, "image", "import", "cloud", str(tmp_path / "cloud.qcow2"), "--user", "debian"
    )
    assert done.returncode == 0 and done.stdout.startswith("imported cloud: "), done.stderr
    assert run_cli(env, "image", "import", "plain", str(raw)).returncode == 0

    listed = {i["name"]: i for i in ls_json(env)}
    assert set(listed) == {"cloud", "plain"}
    cloud, plain = listed["cloud"], listed["plain"]
    assert set(cloud) == {
        "name", "format", "virtual_size", "path", "built_at", "source", "user",
        "kernel", "initrd", "append",
    }  # fmt: skip
    assert cloud["format"] == plain["format"] == "qcow2"  # raw is converted on import
    assert cloud["virtual_size"] == 64 << 20 and plain["virtual_size"] == 8 << 20
    assert cloud["path"] == str(images / "cloud" / "disk.qcow2")
    assert cloud["source"] == f"import:{tmp_path / 'cloud.qcow2'}"
    assert cloud["user"] == "debian" and plain["user"] is None
    assert cloud["kernel"] is cloud["initrd"] is cloud["append"] is None
    assert isinstance(cloud["built_at"], float)
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", plain["path"]], capture_output=True, check=True
        ).stdout
    )
    assert info["format"] == "qcow2" and info["virtual-size"] == 8 << 20
    for p in [images / "cloud", *(images / "cloud").iterdir()]:
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p

    table = run_cli(env, "image", "ls").stdout.splitlines()
    assert table[0].split() == ["NAME", "FORMAT", "SIZE", "BUILT", "PATH"]
    assert table[1].split()[:3] == ["cloud", "qcow2", "64.0M"]

    done = run_cli(env, "image", "rm", "cloud")
    assert done.returncode == 0 and done.stdout == "removed image cloud\n"
    assert [i["name"] for i in ls_json(env)] == ["plain"]
    assert not (images / "cloud").exists()
    assert [p.name for p in images.iterdir()] == [".lock", "plain"]  # no temporary left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "debian-99"], "error: no recipe named 'debian-99' (recipes: debian-12)"),
        (["import", "x", "/nonexistent/disk.qcow2"], "error: no such file: '/nonexistent/"),
        (["import", "x", "TEXT"], "is not a disk image (no partition table or filesystem"),
        (["import", "x", "DIR"], "is not a regular file"),
        (["import", "x", "BACKED"], "has a backing file; flatten it first"),
        (["import", "base", "RAW"], "error: image 'base' already exists"),
        (["import", "_bad", "RAW"], "error: invalid image name '_bad'"),
        (["import", "a/b", "RAW"], "error: invalid image name 'a/b'"),
        (["rm", "nope"], "error: no image named 'nope' (images: base)"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    env: Env, images: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    raw = raw_disk(tmp_path / "raw.img")
    assert run_cli(env, "image", "import", "base", str(raw)).returncode == 0
    (tmp_path / "notes.txt").write_text("hello\n" * 100)
    qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(raw), str(tmp_path / "b.qcow2"))
    where = {
        "TEXT": tmp_path / "notes.txt",
        "DIR": tmp_path,
        "BACKED": tmp_path / "b.qcow2",
        "RAW": raw,
    }
    before = snapshot(images)
    done = run_cli(env, "image", *[str(where.get(a, a)) for a in args])
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr
    assert snapshot(images) == before


def test_no_images_yet_says_how_to_make_one(env: Env, images: Path) -> None:
    done = run_cli(env, "image", "rm", "debian-12")
    assert done.returncode == 1
    assert (
        done.stderr == "error: no image named 'debian-12' (no images yet: maqet-tui image build)\n"
    )
    assert ls_json(env) == []


def test_rm_is_refused_while_a_vm_disk_is_backed_by_the_image(
    env: Env, images: Path, manager: Manager, tmp_path: Path
) -> None:
    assert (
        run_cli(env, "image", "import", "base", str(raw_disk(tmp_path / "r.img"))).returncode == 0
    )
    base = images / "base" / "disk.qcow2"
    overlay = tmp_path / "vm" / "overlay.qcow2"
    overlay.parent.mkdir()
    qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay))
    assert qcow2_backing(overlay) == str(base)
    manager.add("web-1", {"memory": 64, "accel": "tcg", "disks": [str(overlay)]})
    manager.add("db-1", {"memory": 64, "accel": "tcg", "disks": [str(base)]})  # the image itself
    manager.add("free", {"memory": 64, "accel": "tcg"})

    done = run_cli(env, "image", "rm", "base")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: cannot remove image 'base': used by VM db-1, web-1 ")
    assert base.is_file()

    manager.remove("db-1")
    assert "used by VM web-1 " in run_cli(env, "image", "rm", "base").stderr
    manager.remove("web-1")
    assert run_cli(env, "image", "rm", "base").returncode == 0
    assert not (images / "base").exists()


def test_a_directory_without_complete_metadata_is_no_image(env: Env, images: Path) -> None:
    (images / "half").mkdir(parents=True)
    (images / "half" / "disk.qcow2").write_bytes(b"")
    (images / "wrong").mkdir()
    (images / "wrong" / "image.json").write_text('{"name": "other"}')
    (images / ".build-debian-12-x").mkdir()
    assert ls_json(env) == []
    assert "no images yet" in run_cli(env, "image", "rm", "half").stderr
    assert os.path.isdir(images / "half")


def test_rm_is_refused_for_a_vm_that_names_the_image(
    env: Env, images: Path, manager: Manager, tmp_path: Path
) -> None:
    """`image` is the definition key VMs made with `add --image` carry (written to the store
    directly here, as that option's validation is not part of this test)."""
    from maqet_tui.store import models as store

    assert (
        run_cli(env, "image", "import", "base", str(raw_disk(tmp_path / "r.img"))).returncode == 0
    )
    store.open_db(manager.paths.db)
    store.insert_vm("from-image", {"memory": 64, "accel": "tcg", "image": "base"})
    done = run_cli(env, "image", "rm", "base")
    assert done.returncode == 1 and "used by VM from-image " in done.stderr
    assert (images / "base" / "disk.qcow2").is_file()
