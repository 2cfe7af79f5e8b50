"""The SSH key a VM from an image trusts, and the per-home files `maqet-tui ssh` uses.

The key is the one given (`--ssh-key`), else the user's own `~/.ssh/id_*.pub`, else a key pair
generated once per home in `HOME/ssh/` (ed25519, no passphrase, 0600), which `maqet-tui ssh` then
passes with `-i`. The per-home `HOME/ssh/known_hosts` keeps guests' host keys away from the
user's own file; each VM's entry is stored under the alias `maqet-VMID`, so a VM recreated under
the same name and port (a new id, new host keys) never meets a stale entry.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from maqet_tui.common.errors import ConfigError, MaqetError, clip
from maqet_tui.common.paths import Paths

KEY_NAME = "id_ed25519"
PUBKEY_RE = re.compile(r"^(ssh-|ecdsa-|sk-)[A-Za-z0-9@._-]+ [A-Za-z0-9+/]+=* ?[^\n\r]*$")
MAX_PUBKEY = 16 * 1024  # an RSA-16384 public key is about 2.8 KiB
USER_KEYS = ("id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub")


def ssh_dir(paths: Paths) -> Path:
    """`HOME/ssh` (0700): the generated key pair and the known_hosts of this home's guests."""
    d = paths.home / "ssh"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def known_hosts(paths: Paths) -> Path:
    return ssh_dir(paths) / "known_hosts"


def read_pubkey(path: Path) -> str:
    """The public key in `path` (one line, OpenSSH's format); a clear error otherwise."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_PUBKEY + 1)
    except OSError as exc:
        raise ConfigError(f"ssh_key: cannot read {path}: {exc.strerror}", field="ssh_key") from None
    lines = [ln for ln in raw.decode(errors="replace").splitlines() if ln.strip()]
    if len(raw) > MAX_PUBKEY or len(lines) != 1 or not PUBKEY_RE.match(lines[0].strip()):
        raise ConfigError(
            f"ssh_key: {clip(str(path))} is not an OpenSSH public key (one line, e.g. the "
            "contents of ~/.ssh/id_ed25519.pub)",
            field="ssh_key",
        )
    return lines[0].strip()


def generated_key(paths: Paths) -> Path:
    """The home's own key pair, made on first use; the public half's path."""
    private = ssh_dir(paths) / KEY_NAME
    public = private.with_name(KEY_NAME + ".pub")
    if private.exists() and public.exists():
        return public
    exe = shutil.which("ssh-keygen")
    if exe is None:
        raise MaqetError("ssh-keygen not found (install the openssh-client package)")
    tmp = private.with_name(f".{KEY_NAME}.{os.getpid()}")
    for p in (tmp, tmp.with_name(tmp.name + ".pub")):
        p.unlink(missing_ok=True)
    argv = [exe, "-q", "-t", "ed25519", "-N", "", "-C", "maqet-tui", "-f", str(tmp)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, umask=0o077)
    if done.returncode != 0:
        raise MaqetError(f"ssh-keygen failed: {done.stderr.strip() or done.returncode}")
    os.chmod(tmp.with_name(tmp.name + ".pub"), 0o600)
    # the public half last: a pair is complete once its .pub exists
    os.replace(tmp, private)
    os.replace(tmp.with_name(tmp.name + ".pub"), public)
    return public


def choose_key(paths: Paths, given: str | None) -> Path:
    """The public key a new VM trusts (see the module docstring); checked to be one."""
    if given:
        path = Path(given).expanduser().absolute()
    else:
        user = Path(os.path.expanduser("~")) / ".ssh"
        found = [user / n for n in USER_KEYS if (user / n).is_file()]
        path = found[0] if found else generated_key(paths)
    read_pubkey(path)
    return path


def private_key(public: Path) -> Path | None:
    """The private half next to a public key (`id_x` for `id_x.pub`), when it is there."""
    if public.name.endswith(".pub"):
        private = public.with_name(public.name[: -len(".pub")])
        if private.is_file():
            return private
    return None
