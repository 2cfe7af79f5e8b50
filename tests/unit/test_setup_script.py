"""scripts/setup's decisions (scripts/setup-lib.sh), each run in bash with a fake PATH and HOME:
what a plain user without sudo is told, a .venv that cannot work here, the `maqet-tui` link."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "scripts" / "setup-lib.sh"
TOOLS = ("bash", "head", "readlink", "dirname", "mkdir", "ln", "rm")


def fake_bin(tmp: Path, stubs: dict[str, str] | None = None, uid: int = 1000) -> Path:
    """A PATH directory with the basic tools, an `id` that says `uid`, and the given stubs."""
    bin_dir = tmp / "bin"
    if bin_dir.exists():  # adding stubs to it
        tools: tuple[str, ...] = ()
    else:
        bin_dir.mkdir()
        tools = TOOLS
        (bin_dir / "python3").symlink_to(sys.executable)
    for tool in tools:
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True)
        (bin_dir / tool).symlink_to(real.stdout.strip())
    stubs = {"id": f"echo {uid}", **(stubs or {})}
    for name, body in stubs.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/bash\n{body}\n")
        script.chmod(0o755)
    return bin_dir


def run(
    tmp: Path, call: str, path: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(tmp / "home")}
    return subprocess.run(
        ["/bin/bash", "-c", f'. "{LIB}"; {call}'],
        cwd=cwd or tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_missing_packages_follow_path(tmp_path: Path) -> None:
    bare = fake_bin(tmp_path)
    got = run(tmp_path, "missing_packages", str(bare)).stdout.split()
    assert {"qemu-system-x86", "qemu-utils", "dpkg"} <= set(got)
    assert "openssh-client" in got
    stubs = ("qemu-system-x86_64", "qemu-img", "dpkg-deb", "ssh", "sshd")
    fake_bin(tmp_path, dict.fromkeys(stubs, "true"))
    got = run(tmp_path, "missing_packages", str(bare)).stdout.split()
    assert not {"qemu-system-x86", "qemu-utils", "dpkg", "openssh-client", "openssh-server"} & set(
        got
    )


def test_image_tools_are_installed_when_missing(tmp_path: Path) -> None:
    bare = fake_bin(tmp_path)
    got = run(tmp_path, "missing_packages", str(bare)).stdout.split()
    assert {"mmdebstrap", "mtools", "openssh-client"} <= set(got)
    fake_bin(tmp_path, dict.fromkeys(("mmdebstrap", "mcopy", "ssh"), "true"))
    got = run(tmp_path, "missing_packages", str(bare)).stdout.split()
    assert not {"mmdebstrap", "mtools", "openssh-client"} & set(got)


def test_plain_user_without_sudo_is_told_what_to_ask_for(tmp_path: Path) -> None:
    bare = fake_bin(tmp_path, uid=1000)
    done = run(tmp_path, "install_packages qemu-system-x86 qemu-utils", str(bare))
    assert done.returncode == 1
    assert "command not found" not in done.stderr
    assert done.stderr.count("\n") == 1  # one line
    assert "ask an administrator to run: apt-get install qemu-system-x86 qemu-utils" in done.stderr


def test_sudo_is_used_when_there_is_one(tmp_path: Path) -> None:
    log = tmp_path / "sudo.log"
    bare = fake_bin(tmp_path, {"sudo": f'echo "$*" >> {log}'})
    done = run(tmp_path, "install_packages qemu-utils", str(bare))
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "apt-get update -qq",
        "apt-get install -y -qq qemu-utils",
    ]


def make_venv(root: Path, python: Path, shebang: str | None) -> None:
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(python)
    if shebang is not None:
        (bin_dir / "maqet-tui").write_text(f"#!{shebang}\n")


def test_a_venv_that_cannot_work_here_is_noticed(tmp_path: Path) -> None:
    path = str(fake_bin(tmp_path))
    ok = tmp_path / "ok"
    make_venv(ok, Path(sys.executable), str(ok / ".venv" / "bin" / "python"))
    assert run(tmp_path, "venv_usable", path, cwd=ok).returncode == 0

    # Copied from another user: the interpreter it points at cannot be run by this one.
    theirs = tmp_path / "their-python"
    theirs.write_text("#!/bin/sh\n")
    theirs.chmod(0o600)
    denied = tmp_path / "denied"
    make_venv(denied, theirs, None)
    assert run(tmp_path, "venv_usable", path, cwd=denied).returncode == 1

    # Copied from another checkout: the interpreter runs, the installed script points there.
    moved = tmp_path / "moved"
    make_venv(moved, Path(sys.executable), "/home/someone/clone/.venv/bin/python")
    assert run(tmp_path, "venv_usable", path, cwd=moved).returncode == 1


def test_cli_link_in_local_bin(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    target = checkout / ".venv" / "bin" / "maqet-tui"
    link = tmp_path / "home" / ".local" / "bin" / "maqet-tui"
    path = str(fake_bin(tmp_path))

    first = run(tmp_path, "link_cli", path, cwd=checkout)
    assert first.returncode == 0
    assert os.readlink(link) == str(target)
    assert first.stderr.count("\n") == 1 and "not on PATH" in first.stderr
    assert f'export PATH="{link.parent}:$PATH"' in first.stderr

    again = run(tmp_path, "link_cli", f"{link.parent}:{path}", cwd=checkout)
    assert again.returncode == 0 and again.stderr == ""  # on PATH: nothing to say
    assert os.readlink(link) == str(target)

    link.unlink()
    link.write_text("someone else's\n")
    foreign = run(tmp_path, "link_cli", f"{link.parent}:{path}", cwd=checkout)
    assert foreign.returncode == 0 and "left alone" in foreign.stderr
    assert link.read_text() == "someone else's\n"


def test_setup_without_qemu_or_sudo_stops_with_what_to_ask_for(tmp_path: Path) -> None:
    """The whole script, as a plain user would run it: one line naming the packages, exit 1,
    before anything is created (it stops ahead of the .venv step)."""
    bare = fake_bin(tmp_path, uid=1000)
    setup = LIB.parent / "setup"
    done = subprocess.run(
        ["/bin/bash", str(setup)],
        env={"PATH": str(bare), "HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("setup: missing qemu-system-x86 qemu-utils")
    assert "ask an administrator" in done.stderr and "not found" not in done.stderr
    assert not (tmp_path / "home").exists()
