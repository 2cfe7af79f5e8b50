"""The NoCloud seed of a VM made from an image: a small vfat volume labelled `CIDATA` holding
`meta-data` and `user-data`, which cloud-init in the guest reads at boot.

vfat (mkfs.vfat from dosfstools, mcopy from mtools) rather than ISO9660: both are read by
cloud-init's NoCloud, and these two small Debian packages write the volume without root and
without a loop mount. The seed is rebuilt when what it should say changes (the VM's name, its SSH
key, the user's user-data): `seed.sum` beside it records the digest of the content it holds.

`meta-data` sets `instance-id` to the VM's id and `local-hostname` to its name. `user-data` is a
`#cloud-config` setting the hostname and putting the key in the image's default user's
`authorized_keys`. A user's own `--user-data FILE` is merged, theirs first: both go into a MIME
multipart, ours last with `merge_how: dict(no_replace,recurse_list)+list(append)`, so what the
user set wins and ours only fills in (the SSH key is appended to any keys they list).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from maqet_tui.common.errors import ConfigError, MaqetError
from maqet_tui.core.ssh_keys import read_pubkey

LABEL = "CIDATA"
SIZE_KIB = 1024  # FAT12; room for a large user-data
MAX_USER_DATA = 512 * 1024
TOOL_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
MERGE_HOW = "dict(no_replace,recurse_list)+list(append)"
# The MIME type cloud-init expects for each kind of user-data, by how the file starts.
STARTS = (
    ("#cloud-config-archive", "text/cloud-config-archive"),
    ("#cloud-config", "text/cloud-config"),
    ("#cloud-boothook", "text/cloud-boothook"),
    ("#include", "text/x-include-url"),
    ("#part-handler", "text/part-handler"),
    ("#!", "text/x-shellscript"),
)


def meta_data(vm_id: str, name: str) -> str:
    return f"instance-id: {vm_id}\nlocal-hostname: {name}\n"


def cloud_config(name: str, pubkey: str | None, merge: bool = False) -> str:
    """Ours: the hostname and the SSH key (JSON strings are valid YAML, so nothing needs
    escaping by hand)."""
    lines = ["#cloud-config", f"hostname: {json.dumps(name)}", "preserve_hostname: false"]
    if pubkey is not None:
        lines += ["ssh_authorized_keys:", f"  - {json.dumps(pubkey)}"]
    if merge:
        lines.append(f"merge_how: {json.dumps(MERGE_HOW)}")
    return "\n".join(lines) + "\n"


def read_user_data(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"user_data: cannot read {path}: {exc.strerror}", "user_data") from None
    if len(raw) > MAX_USER_DATA:
        raise ConfigError(f"user_data: {path} is over {MAX_USER_DATA} bytes", "user_data")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ConfigError(f"user_data: {path} is not UTF-8 text", "user_data") from None


def user_data(name: str, pubkey: str | None, extra: str | None = None) -> str:
    """The seed's `user-data`: ours alone, or the user's and ours merged (module docstring)."""
    if extra is None:
        return cloud_config(name, pubkey)
    from email.charset import Charset  # only here: `start` imports this module
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    utf8 = Charset("utf-8")
    # 8bit, not base64: the seed stays readable (mtype -i seed.img ::user-data)
    utf8.body_encoding = None  # type: ignore[assignment]

    ctype = next((t for p, t in STARTS if extra.startswith(p)), "text/plain")
    msg = MIMEMultipart()
    for text, kind in (
        (extra, ctype),
        (cloud_config(name, pubkey, merge=True), "text/cloud-config"),
    ):
        part = MIMEText(text, _charset=utf8)  # type: ignore[arg-type]
        part.replace_header("Content-Type", f'{kind}; charset="utf-8"')
        msg.attach(part)
    return msg.as_string()


def digest(meta: str, user: str) -> str:
    return hashlib.sha256(f"{len(meta)}:{meta}{user}".encode()).hexdigest()


def _tool(name: str, package: str) -> str:
    exe = shutil.which(name, path=TOOL_PATH)
    if exe is None:
        raise MaqetError(f"{name} not found (install the {package} package)")
    return exe


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, umask=0o077, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [str(done.returncode)])[-1]
        raise MaqetError(f"building the cloud-init seed: {Path(argv[0]).name} failed: {last}")


def write_seed(path: Path, meta: str, user: str) -> bool:
    """Make the seed at `path` say `meta` and `user`; False when it already did (unchanged).
    Written beside it and renamed into place, so a VM never boots a half-written seed."""
    want = digest(meta, user)
    sums = path.with_name(path.name + ".sum")
    try:
        if path.is_file() and sums.read_text().strip() == want:
            return False
    except OSError:
        pass
    mkfs, mcopy = _tool("mkfs.vfat", "dosfstools"), _tool("mcopy", "mtools")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".seed-") as tmp:
        files = []
        for fname, text in (("meta-data", meta), ("user-data", user)):
            (Path(tmp) / fname).write_text(text)
            files.append(str(Path(tmp) / fname))
        img = Path(tmp) / "seed.img"
        _run([mkfs, "-n", LABEL, "-C", str(img), str(SIZE_KIB)])
        _run([mcopy, "-i", str(img), *files, "::"], {**os.environ, "MTOOLS_SKIP_CHECK": "1"})
        os.chmod(img, 0o600)
        os.replace(img, path)
    tmp_sum = sums.with_name(f".{sums.name}.{os.getpid()}")
    with open(os.open(tmp_sum, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(want + "\n")
    os.replace(tmp_sum, sums)
    return True


def seed_content(vm_id: str, name: str, cfg: dict[str, Any]) -> tuple[str, str]:
    """(meta-data, user-data) the VM's seed should hold now."""
    pubkey = read_pubkey(Path(cfg["ssh_key"])) if cfg.get("ssh_key") else None
    extra = read_user_data(Path(cfg["user_data"])) if cfg.get("user_data") else None
    return meta_data(vm_id, name), user_data(name, pubkey, extra)


def refresh_seed(vm_id: str, name: str, cfg: dict[str, Any]) -> bool:
    """Rebuild the seed when what it should say changed; True when it was rewritten. A key file
    that has gone away keeps the seed the VM has (cloud-init read it at the first boot)."""
    path = Path(cfg["seed"])
    try:
        meta, user = seed_content(vm_id, name, cfg)
    except ConfigError:
        if path.is_file():
            return False
        raise
    return write_seed(path, meta, user)
