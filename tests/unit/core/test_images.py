"""Image metadata, names, the recipe hash and the checks that need no tool: pure functions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from maqet_tui.common.errors import ConfigError, NotFoundError
from maqet_tui.common.paths import Paths
from maqet_tui.core import image_recipe
from maqet_tui.core.image_files import has_subids
from maqet_tui.core.image_import import looks_like_disk
from maqet_tui.core.image_recipe import DEBIAN_12, recipe_hash
from maqet_tui.core.images import (
    Image,
    check_name,
    get_image,
    images_dir,
    list_images,
    metadata_for,
    parse_metadata,
)


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.delenv("MAQET_TUI_IMAGES", raising=False)
    return Paths(home=tmp_path / "home", runtime=tmp_path / "run")


def an_image(d: Path, name: str = "deb", **changes: object) -> Image:
    base = Image(
        name=name,
        format="qcow2",
        virtual_size=4 << 30,
        disk=d / name / "disk.qcow2",
        kernel=d / name / "vmlinuz",
        initrd=d / name / "initrd.img",
        append="root=/dev/vda rw console=ttyS0",
        user="debian",
        built_at=1700000000.5,
        source="build:debian-12",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def store(root: Path, image: Image, **meta_changes: object) -> None:
    (root / image.name).mkdir(parents=True, exist_ok=True)
    meta = metadata_for(image) | meta_changes
    (root / image.name / "image.json").write_text(json.dumps(meta))


def test_images_dir_is_the_variable_else_home_images(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert images_dir(paths) == tmp_path / "home" / "images"
    monkeypatch.setenv("MAQET_TUI_IMAGES", str(tmp_path / "shared"))
    assert images_dir(paths) == tmp_path / "shared"


def test_metadata_keeps_relative_file_names_and_round_trips(tmp_path: Path) -> None:
    image = an_image(tmp_path)
    meta = metadata_for(image, {"recipe": "abc"})
    assert meta["path"] == "disk.qcow2" and meta["kernel"] == "vmlinuz"
    assert meta["recipe"] == "abc"
    assert parse_metadata(tmp_path / "deb", json.loads(json.dumps(meta))) == image
    firmware = an_image(tmp_path, kernel=None, initrd=None, append=None, user=None)
    assert parse_metadata(tmp_path / "deb", metadata_for(firmware)) == firmware


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"name": ""}, "'name'"),
        ({"path": "../other/disk.qcow2"}, "'path' must be a file name"),
        ({"kernel": "/boot/vmlinuz"}, "'kernel' must be a file name"),
        ({"virtual_size": True}, "'virtual_size'"),
        ({"virtual_size": -1}, "'virtual_size'"),
        ({"virtual_size": "4G"}, "'virtual_size'"),
        ({"built_at": None}, "'built_at'"),
        ({"format": 7}, "'format'"),
    ],
)
def test_bad_metadata_is_named(tmp_path: Path, change: dict[str, object], why: str) -> None:
    meta = metadata_for(an_image(tmp_path)) | change
    with pytest.raises(ValueError, match=why):
        parse_metadata(tmp_path / "deb", meta)
    with pytest.raises(ValueError, match="not a JSON object"):
        parse_metadata(tmp_path, [meta])


def test_list_skips_temporaries_broken_and_misnamed_directories(paths: Paths) -> None:
    root = images_dir(paths)
    store(root, an_image(root, "b"))
    store(root, an_image(root, "a"))
    store(root, an_image(root, ".build-a-x"))
    store(root, an_image(root, "c"), name="not-c")  # copied from elsewhere: not trusted
    store(root, an_image(root, "d"), virtual_size="big")
    (root / "e").mkdir()
    assert [i.name for i in list_images(paths)] == ["a", "b"]
    assert get_image(paths, "a").disk == root / "a" / "disk.qcow2"


def test_get_unknown_lists_what_exists(paths: Paths) -> None:
    with pytest.raises(NotFoundError, match=r"^no image named 'x' \(no images yet: maqet-tui"):
        get_image(paths, "x")
    root = images_dir(paths)
    store(root, an_image(root, "one"))
    store(root, an_image(root, "two"))
    with pytest.raises(NotFoundError, match=r"^no image named '\.\./one' \(images: one, two\)$"):
        get_image(paths, "../one")


@pytest.mark.parametrize("bad", ["", "-x", ".hidden", "a/b", "x" * 64, "sp ace", "é"])
def test_image_names_are_plain(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid image name"):
        check_name(bad)
    assert check_name("debian-12.1_a") == "debian-12.1_a"


def test_recipe_hash_is_stable_and_sees_every_part(monkeypatch: pytest.MonkeyPatch) -> None:
    h = recipe_hash(DEBIAN_12)
    assert h == recipe_hash(dataclasses.replace(DEBIAN_12))
    assert h == recipe_hash(dataclasses.replace(DEBIAN_12, packages=DEBIAN_12.packages[::-1]))
    changed = [
        dataclasses.replace(DEBIAN_12, packages=(*DEBIAN_12.packages, "vim")),
        dataclasses.replace(
            DEBIAN_12, files={**DEBIAN_12.files, "/etc/fstab": "/dev/vdb / ext4 rw 0 1\n"}
        ),
        dataclasses.replace(DEBIAN_12, masked_units=()),
        dataclasses.replace(DEBIAN_12, mirrors=DEBIAN_12.mirrors[:1]),
        dataclasses.replace(DEBIAN_12, append="root=/dev/vda ro"),
        dataclasses.replace(DEBIAN_12, disk_size="8G"),
    ]
    assert len({h, *map(recipe_hash, changed)}) == len(changed) + 1
    monkeypatch.setattr(image_recipe, "FORMAT_VERSION", image_recipe.FORMAT_VERSION + 1)
    assert recipe_hash(DEBIAN_12) != h


def test_the_recipe_never_calls_out_on_its_own() -> None:
    files = DEBIAN_12.files
    cloud = files["/etc/cloud/cloud.cfg.d/99-maqet-tui.cfg"]
    assert "datasource_list: [NoCloud, None]" in cloud and "package_upgrade: false" in cloud
    assert "FallbackDNS=\n" in files["/etc/systemd/resolved.conf.d/maqet-tui.conf"]
    assert {"apt-daily.timer", "apt-daily-upgrade.timer", "systemd-timesyncd.service"} <= set(
        DEBIAN_12.masked_units
    )
    assert "Name=en* eth*" in files["/etc/systemd/network/20-wired.network"]
    assert all(m.startswith("deb http://deb.debian.org/") for m in DEBIAN_12.mirrors)


def test_subordinate_ids_need_a_full_range(tmp_path: Path) -> None:
    f = tmp_path / "subuid"
    f.write_text("alice:100000:65536\nbob:200000:1000\n1005:300000:65536\n")
    assert has_subids(str(f), "alice", 1000)
    assert not has_subids(str(f), "bob", 1001)
    assert has_subids(str(f), "carol", 1005)  # by uid
    assert not has_subids(str(tmp_path / "missing"), "alice", 1000)


@pytest.mark.parametrize(
    ("offset", "magic", "disk"),
    [(510, b"\x55\xaa", True), (1080, b"\x53\xef", True), (0, b"XFSB", True), (0, b"hi", False)],
)
def test_raw_disks_are_told_from_other_files(
    tmp_path: Path, offset: int, magic: bytes, disk: bool
) -> None:
    f = tmp_path / "f"
    with open(f, "wb") as out:
        out.truncate(1 << 20)
        out.seek(offset)
        out.write(magic)
    assert looks_like_disk(f) is disk
    assert not looks_like_disk(tmp_path / "missing")
