"""The build pipeline without the network: a fake apt hands out tiny hand-built .debs (unpacked by
the real dpkg-deb), so caching, rebuilds, the apt-get update retry, locking and errors run for real."""

from __future__ import annotations

import gzip
import json
import lzma
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maqet_tui.core import guest_image as gi
from tests.unit.core.test_guest_image import FAKE_BUSYBOX, FAKE_BUTTON, FAKE_EVDEV, parse_newc

FAKE_KVER = "9.9.9-test"
FAKE_KERNEL_PKG = f"linux-image-{FAKE_KVER}"
FAKE_VMLINUZ = b"not really a kernel\n" * 50
REAL_RUN = subprocess.run


def _make_deb(root: Path, out: Path, package: str, files: dict[str, bytes]) -> Path:
    (root / "DEBIAN").mkdir(parents=True)
    control = f"Package: {package}\nVersion: 1:2.0-1\nArchitecture: amd64\nMaintainer: t <t@t>\n"
    (root / "DEBIAN/control").write_text(control + "Description: test\n")
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    deb = out / f"{package}_1%3a2.0-1_amd64.deb"
    REAL_RUN(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


@pytest.fixture(scope="module")
def fake_debs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("debs")
    mods = f"usr/lib/modules/{FAKE_KVER}/kernel/drivers"  # merged-/usr layout, xz'd evdev
    _make_deb(base / "k", base, FAKE_KERNEL_PKG, {
        f"boot/vmlinuz-{FAKE_KVER}": FAKE_VMLINUZ,
        f"{mods}/input/evdev.ko.xz": lzma.compress(FAKE_EVDEV, format=lzma.FORMAT_XZ),
        f"{mods}/acpi/button.ko": FAKE_BUTTON,
        f"{mods}/input/misc/soc_button_array.ko": b"must not be picked",
    })  # fmt: skip
    _make_deb(base / "b", base, "busybox-static", {"bin/busybox": FAKE_BUSYBOX})
    return base


class FakeApt:
    """Stands in for apt-cache/apt-get; every other command (dpkg-deb) runs for real."""

    def __init__(self, debs: Path, lists: bool = True, fail_download: str = "") -> None:
        self.debs, self.lists, self.fail_download = debs, lists, fail_download
        self.calls: list[list[str]] = []
        self.before_download: Callable[[], object] = lambda: None

    def __call__(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        if argv[0] not in ("apt-cache", "apt-get"):
            return REAL_RUN(argv, **kw)
        self.calls.append(argv)
        args = [a for a in argv[1:] if not a.startswith(("-o", "APT::"))]
        if args == ["update"]:
            self.lists = True
            return subprocess.CompletedProcess(argv, 0, "", "")
        if not self.lists:
            err = (
                "E: No packages found" if argv[0] == "apt-cache" else "E: Unable to locate package"
            )
            return subprocess.CompletedProcess(argv, 100, "", f"W: noise\n{err}\n")
        if args == ["depends", "linux-image-amd64"]:
            out = f"linux-image-amd64\n  Depends: {FAKE_KERNEL_PKG}\n"
            return subprocess.CompletedProcess(argv, 0, out, "")
        assert args[0] == "download", argv
        self.before_download()
        if self.fail_download:
            return subprocess.CompletedProcess(argv, 100, "", f"E: {self.fail_download}\nW: x\n")
        for deb in self.debs.glob(f"{args[1]}_*.deb"):
            shutil.copy(deb, kw["cwd"])
        return subprocess.CompletedProcess(argv, 0, "", "")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "guest"


Steps = list[tuple[str, float | None]]


def _recorder(steps: Steps) -> Callable[[str, float | None], None]:
    return lambda step, fraction: steps.append((step, fraction))


def _forbid_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError(f"subprocess started on a cache hit: {a}")

    monkeypatch.setattr(subprocess, "run", boom)
    monkeypatch.setattr(subprocess, "Popen", boom)


def test_build_updates_missing_lists_once_then_caches(
    fake_debs: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: Steps = []
    apt = FakeApt(fake_debs, lists=False)
    monkeypatch.setattr(subprocess, "run", apt)
    image = gi.ensure_guest(cache, _recorder(steps))

    assert [c for c in apt.calls if "update" in c] == [["apt-get", "update"]]
    assert image == gi.GuestImage(cache / "vmlinuz", cache / "initrd.gz", FAKE_KVER)
    assert image.kernel.read_bytes() == FAKE_VMLINUZ
    entries = {e["name"]: e for e in parse_newc(gzip.decompress(image.initrd.read_bytes()))}
    assert entries["lib/modules/evdev.ko"]["data"] == FAKE_EVDEV  # xz undone
    assert entries["lib/modules/button.ko"]["data"] == FAKE_BUTTON
    assert entries["bin/busybox"]["data"] == FAKE_BUSYBOX
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["format"] == gi.FORMAT_VERSION and manifest["kernel_version"] == FAKE_KVER
    assert manifest["busybox_version"] == "1:2.0-1"
    names = [s for s, _ in steps]
    assert names[-6:] == [
        "resolving kernel package", f"downloading {FAKE_KERNEL_PKG}",
        "downloading busybox-static", "unpacking", "building initramfs", "done",
    ]  # fmt: skip
    assert ("updating package lists", None) in steps
    fractions = [f for _, f in steps if f is not None]
    assert fractions == sorted(fractions) and fractions[0] >= 0.0 and steps[-1] == ("done", 1.0)
    left = sorted(p.name for p in cache.iterdir())
    assert left == [".lock", "initrd.gz", "manifest.json", "vmlinuz"]  # no temp files or dirs

    steps.clear()
    _forbid_subprocesses(monkeypatch)
    assert gi.ensure_guest(cache, _recorder(steps)) == image
    assert steps == [("done", 1.0)]


@pytest.mark.parametrize("damage", ["format", "recipe", "truncate", "remove", "garbage"])
def test_damaged_or_outdated_cache_is_rebuilt(
    fake_debs: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    monkeypatch.setattr(subprocess, "run", FakeApt(fake_debs))
    gi.ensure_guest(cache)
    manifest_path = cache / "manifest.json"
    good = manifest_path.read_text()
    manifest = json.loads(good)
    if damage in ("format", "recipe"):  # what a newer init script or layout looks like
        manifest[damage] = 0
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "truncate":
        (cache / "initrd.gz").write_bytes(b"\x1f\x8b")
    elif damage == "remove":
        (cache / "vmlinuz").unlink()
    else:
        manifest_path.write_text("{not json")
    apt = FakeApt(fake_debs)
    monkeypatch.setattr(subprocess, "run", apt)
    image = gi.ensure_guest(cache)
    assert any("download" in c for c in apt.calls)
    assert image.kernel.read_bytes() == FAKE_VMLINUZ
    assert gzip.decompress(image.initrd.read_bytes()).startswith(b"070701")
    assert manifest_path.read_text() == good


def test_failed_build_says_which_step_and_leaves_nothing_that_looks_complete(
    fake_debs: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "run", FakeApt(fake_debs))
    gi.ensure_guest(cache)
    apt = FakeApt(fake_debs, fail_download="Failed to fetch http://x/y  Could not resolve 'x'")
    monkeypatch.setattr(subprocess, "run", apt)
    (cache / "manifest.json").write_text("{}")  # force a rebuild that will fail
    with pytest.raises(gi.GuestImageError) as exc:
        gi.ensure_guest(cache)
    msg = str(exc.value)
    assert msg == (
        f"downloading {FAKE_KERNEL_PKG} failed: E: Failed to fetch http://x/y  Could not resolve 'x'"
    )
    assert not any("update" in c for c in apt.calls)  # a network error is not a stale list
    assert not (cache / "manifest.json").exists()
    assert sorted(p.name for p in cache.iterdir()) == [".lock", "initrd.gz", "vmlinuz"]
    monkeypatch.setattr(subprocess, "run", FakeApt(fake_debs))
    assert gi.ensure_guest(cache).kernel.read_bytes() == FAKE_VMLINUZ


def test_missing_tool_is_a_clear_error(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(cache.parent))  # no apt-cache anywhere on it
    with pytest.raises(gi.GuestImageError, match=r"^resolving kernel package failed: cannot run "):
        gi.ensure_guest(cache)


def test_concurrent_callers_build_once(
    fake_debs: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first builder holds its download until the second caller reports that it is waiting,
    # so the two calls overlap for certain; without the lock both would download.
    apt = FakeApt(fake_debs)
    second_waits = threading.Event()
    apt.before_download = lambda: second_waits.wait(timeout=10)
    monkeypatch.setattr(subprocess, "run", apt)
    results: list[gi.GuestImage] = []
    steps: Steps = []

    def record(step: str, fraction: float | None) -> None:
        steps.append((step, fraction))
        if step.startswith("waiting"):
            second_waits.set()

    def call() -> None:
        results.append(gi.ensure_guest(cache, record))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2 and results[0] == results[1]
    assert second_waits.is_set()
    assert sum(1 for c in apt.calls if c[-1] == "busybox-static") == 1


def test_main_prints_paths_or_error(
    fake_debs: Path,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(subprocess, "run", FakeApt(fake_debs))
    assert gi.main([str(cache)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(cache / "vmlinuz"), str(cache / "initrd.gz")]
    assert "building initramfs" in err and "done" in err
    blocked = cache.parent / "file"
    blocked.write_text("")
    assert gi.main([str(blocked / "guest")]) == 1
    assert capsys.readouterr().err.startswith(f"error: cannot use guest cache {blocked}/guest: ")
