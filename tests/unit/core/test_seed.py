"""The NoCloud seed: what meta-data and user-data say, the user's user-data merged, the vfat
volume itself (read back with mtools), and rebuilding only when its content changes."""

from __future__ import annotations

import email
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from maqet_tui.common.errors import ConfigError
from maqet_tui.core import seed

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFake x@y"
MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def mtype(img: Path, name: str) -> str:
    done = subprocess.run(
        ["mtype", "-i", str(img), f"::{name}"], capture_output=True, text=True, env=MTOOLS
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_meta_data_names_the_instance_and_host() -> None:
    assert yaml.safe_load(seed.meta_data("abcd1234", "web-1")) == {
        "instance-id": "abcd1234",
        "local-hostname": "web-1",
    }


def test_our_user_data_sets_the_hostname_and_the_key() -> None:
    text = seed.user_data("web-1", KEY)
    assert text.startswith("#cloud-config\n")
    assert yaml.safe_load(text) == {
        "hostname": "web-1",
        "preserve_hostname": False,
        "ssh_authorized_keys": [KEY],
    }


def test_the_users_user_data_comes_first_and_ours_merges_without_replacing() -> None:
    mine = "#cloud-config\npackages: [htop]\nhostname: theirs\n"
    msg = email.message_from_string(seed.user_data("web-1", KEY, mine))
    parts = [p for p in msg.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/cloud-config"] * 2
    texts = [p.get_payload(decode=True) for p in parts]
    assert isinstance(texts[0], bytes) and isinstance(texts[1], bytes)
    assert texts[0].decode() == mine
    ours = yaml.safe_load(texts[1].decode())
    assert ours["merge_how"] == seed.MERGE_HOW and ours["ssh_authorized_keys"] == [KEY]


def test_a_script_as_user_data_keeps_its_type() -> None:
    msg = email.message_from_string(seed.user_data("a", KEY, "#!/bin/sh\necho hi\n"))
    kinds = [p.get_content_type() for p in msg.walk() if not p.is_multipart()]
    assert kinds == ["text/x-shellscript", "text/cloud-config"]


def test_the_volume_is_vfat_labelled_cidata_with_both_files(tmp_path: Path) -> None:
    img = tmp_path / "seed.img"
    meta, user = seed.meta_data("abcd1234", "web-1"), seed.user_data("web-1", KEY)
    assert seed.write_seed(img, meta, user) is True
    assert mtype(img, "meta-data") == meta
    assert mtype(img, "user-data") == user
    label = subprocess.run(
        ["mlabel", "-s", "-i", str(img), "::"], capture_output=True, text=True, env=MTOOLS
    )
    assert "CIDATA" in label.stdout
    assert img.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_it_is_rebuilt_only_when_its_content_changes(tmp_path: Path) -> None:
    img = tmp_path / "seed.img"
    meta = seed.meta_data("abcd1234", "a")
    assert seed.write_seed(img, meta, seed.user_data("a", KEY))
    first = img.stat().st_mtime_ns, img.stat().st_ino
    assert seed.write_seed(img, meta, seed.user_data("a", KEY)) is False
    assert (img.stat().st_mtime_ns, img.stat().st_ino) == first
    assert seed.write_seed(img, meta, seed.user_data("a", KEY.replace("x@y", "z@w"))) is True
    assert "z@w" in mtype(img, "user-data")
    img.unlink()  # a seed deleted by hand comes back
    assert seed.write_seed(img, meta, seed.user_data("a", KEY.replace("x@y", "z@w"))) is True


def test_refresh_follows_the_key_file_and_keeps_the_seed_when_it_is_gone(tmp_path: Path) -> None:
    pub = tmp_path / "k.pub"
    pub.write_text(KEY + "\n")
    cfg = {"seed": str(tmp_path / "seed.img"), "ssh_key": str(pub), "user_data": None}
    assert seed.refresh_seed("abcd1234", "a", cfg) is True
    assert seed.refresh_seed("abcd1234", "a", cfg) is False
    pub.write_text(KEY.replace("x@y", "new@key") + "\n")
    assert seed.refresh_seed("abcd1234", "a", cfg) is True
    assert "new@key" in mtype(tmp_path / "seed.img", "user-data")
    pub.unlink()
    assert seed.refresh_seed("abcd1234", "a", cfg) is False  # the VM keeps the seed it has
    (tmp_path / "seed.img").unlink()
    with pytest.raises(ConfigError, match="ssh_key: cannot read"):
        seed.refresh_seed("abcd1234", "a", cfg)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"\xff\xfe", "not UTF-8"), (b"x" * (seed.MAX_USER_DATA + 1), "over")],
)
def test_bad_user_data_files_are_refused(tmp_path: Path, content: bytes, words: str) -> None:
    f = tmp_path / "ud"
    f.write_bytes(content)
    with pytest.raises(ConfigError, match=words):
        seed.read_user_data(f)
