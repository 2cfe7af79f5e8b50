"""VM definitions in the peer tool's YAML format: several files deep-merged, imported, exported.

Merge rules (the peer's): later files win; mappings merge recursively; scalars are replaced;
`arguments` merge by key (an item replaces the first earlier item with the same key); other lists
(`storage`) are concatenated. Relative paths are resolved against the file that names them, before
merging. Whatever we cannot honour is refused by name, never dropped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from maqet_tui.common.errors import ConfigError, clip, key_list
from maqet_tui.common.sizes import memory_mib
from maqet_tui.core import yaml_bounded
from maqet_tui.core.config import DISPLAY_HINT
from maqet_tui.core.peer_storage import NewDisk as NewDisk
from maqet_tui.core.peer_storage import storage

# Ours, beyond the peer's keys: a VM made from an image and its network (guest_spec), and
# the guest agent channel.
OUR_KEYS = ("image", "net", "forwards", "mac", "ssh_key", "seed", "user_data", "agent")
TOP_KEYS = {"name", "binary", "memory", "cpu", "display", "vga", "arguments", "storage", *OUR_KEYS}
MAX_FILE = yaml_bounded.MAX_FILE
PATH_ARGS = ("kernel", "initrd")


def _load_one(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE:
        raise ConfigError(f"{path}: larger than {MAX_FILE} bytes")
    data = yaml_bounded.parse(raw, path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unsupported key{'s' if len(unknown) > 1 else ''}: {key_list(unknown)}"
        )
    return _resolve_paths(data, path.parent)


def _abs(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value and not value.startswith("-"):
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())
    return value


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    out = dict(data)
    if isinstance(data.get("arguments"), list):
        out["arguments"] = [
            {k: _abs(v, base) for k, v in item.items()}
            if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in PATH_ARGS
            else item
            for item in data["arguments"]
        ]
    if isinstance(data.get("storage"), list):
        out["storage"] = [
            {
                k: (_abs(v, base) if k in ("file", "path", "backing_file") else v)
                for k, v in item.items()
            }
            if isinstance(item, dict)
            else item
            for item in data["storage"]
        ]
    if "binary" in data and isinstance(data["binary"], str) and "/" in data["binary"]:
        out["binary"] = _abs(data["binary"], base)
    for key in ("ssh_key", "seed", "user_data"):
        if key in data:
            out[key] = _abs(data[key], base)
    return out


def _arg_key(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and len(item) == 1:
        return str(next(iter(item)))
    return None


def _merge_arguments(a: list[Any], b: list[Any]) -> list[Any]:
    out = list(a)
    for item in b:
        key = _arg_key(item)
        idx = next((i for i, x in enumerate(out) if key is not None and _arg_key(x) == key), None)
        if idx is None:
            out.append(item)
        else:
            out[idx] = item
    return out


def deep_merge(a: dict[str, Any], b: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    if depth > 10:
        raise ConfigError("definition nests deeper than 10 levels")
    out = dict(a)
    for key, value in b.items():
        old = out.get(key)
        if key == "arguments" and isinstance(old, list) and isinstance(value, list):
            out[key] = _merge_arguments(old, value)
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = deep_merge(old, value, depth + 1)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        else:
            out[key] = value
    return out


def load(paths: list[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for p in paths:
        merged = deep_merge(merged, _load_one(p))
    return merged


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(
            f"arguments: value of {clip(key)} must be a scalar or a mapping", field="arguments"
        )
    return str(value)


SMP_KEYS = (
    "cpus",
    "maxcpus",
    "drawers",
    "books",
    "sockets",
    "dies",
    "clusters",
    "cores",
    "threads",
)


def _smp_count(text: str) -> int:
    """The CPU count of an `-smp` value (`8,cores=4,threads=2`): the count given, else the product
    of the topology, as QEMU computes it."""
    opts: dict[str, int] = {}
    for i, part in enumerate(text.split(",")):
        k, eq, v = part.partition("=")
        if not eq and i == 0:
            k, v = "cpus", k
        if k not in SMP_KEYS or not re.fullmatch(r"\d{1,9}", v, re.ASCII) or k in opts:
            raise ConfigError(
                f"arguments: smp: {clip(part)} is not a count or KEY=N (KEY: {' '.join(SMP_KEYS)})",
                field="arguments",
            )
        opts[k] = int(v)
    if "cpus" in opts:
        return opts["cpus"]
    count = 1
    for k in ("drawers", "books", "sockets", "dies", "clusters", "cores", "threads"):
        count *= opts.get(k, 1)
    return count


def _display(value: Any, where: str) -> None:
    """`display: none` is what every VM gets; any other display is refused, in either spelling."""
    if value not in (None, "none"):
        field = "display" if where == "display:" else "arguments"
        raise ConfigError(f"{where} {clip(value)} is not supported ({DISPLAY_HINT})", field=field)


def _argument(item: Any, cfg: dict[str, Any]) -> None:
    """One `arguments` item into our definition (managed fields) or into qemu_args."""
    if isinstance(item, str):
        key, value = item, None
    elif isinstance(item, dict) and len(item) == 1:
        key, value = next(iter(item.items()))
    else:
        raise ConfigError(
            f"arguments: {clip(item)} must be a string or a one-key mapping", field="arguments"
        )
    key = str(key).lstrip("-")
    if key == "display":
        _display(value, "arguments: display")
        return
    if isinstance(value, dict):
        # `{netdev: {user: null, id: n0}}` is `-netdev user,id=n0`: a null value is a bare word
        value = ",".join(
            str(k) if v is None else f"{k}={_scalar(key, v)}" for k, v in value.items()
        )
    if key in ("kernel", "initrd", "append"):
        cfg[key] = _scalar(key, value)
    elif key == "m":
        cfg["memory"] = memory_mib(value)
    elif key == "smp":
        text = _scalar(key, value)
        cfg["cpus"] = _smp_count(text)
        if not re.fullmatch(r"\d{1,9}", text, re.ASCII):
            cfg.setdefault("qemu_args", []).extend(["-smp", text])  # after ours: QEMU merges them
    elif key == "enable-kvm":
        cfg["accel"] = "kvm"
    elif key == "accel":
        cfg["accel"] = _scalar(key, value)
    elif key == "machine":
        parts = _scalar(key, value).split(",")
        cfg["machine"] = parts[0].removeprefix("type=")
        for opt in parts[1:]:
            if opt.startswith("accel="):
                cfg["accel"] = opt.split("=", 1)[1]
            else:
                raise ConfigError(
                    f"arguments: machine option {clip(opt)} is not supported", field="arguments"
                )
    else:
        cfg.setdefault("qemu_args", []).append(f"-{key}")
        if value is not None:
            cfg["qemu_args"].append(_scalar(key, value))


def to_config(data: dict[str, Any]) -> tuple[str | None, dict[str, Any], list[NewDisk]]:
    """(name, our definition, qcow2 disks to create) from a merged peer definition."""
    cfg: dict[str, Any] = {}
    if "binary" in data:
        cfg["binary"] = data["binary"]
    if "memory" in data:
        cfg["memory"] = memory_mib(data["memory"])
    if "cpu" in data:
        cfg["cpus"] = data["cpu"]
    _display(data.get("display"), "display:")
    if data.get("vga") is not None:
        cfg["qemu_args"] = ["-vga", _scalar("vga", data["vga"])]
    args = data.get("arguments") or []
    if not isinstance(args, list):
        raise ConfigError("arguments: expected a list", field="arguments")
    for item in args:
        _argument(item, cfg)
    new_disks = storage(data.get("storage") or [], cfg)
    cfg.update({k: data[k] for k in OUR_KEYS if k in data})
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError("name: expected a string", field="name")
    return name, cfg, new_disks


def from_config(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Our definition as peer YAML data; `to_config(from_config(x))` gives back `x`."""
    out: dict[str, Any] = {
        "name": name,
        "binary": cfg["binary"],
        "memory": f"{cfg['memory']}M",
        "cpu": cfg["cpus"],
    }
    args: list[Any] = [{"machine": cfg["machine"]}]
    if cfg["accel"] != "auto":
        args.append({"accel": cfg["accel"]})
    for key in ("kernel", "initrd", "append"):
        if cfg.get(key):
            args.append({key: cfg[key]})
    qargs = list(cfg.get("qemu_args") or [])
    while qargs:
        flag = qargs.pop(0).lstrip("-")
        if qargs and not qargs[0].startswith("-"):
            args.append({flag: qargs.pop(0)})
        else:
            args.append(flag)
    out["arguments"] = args
    entries: list[dict[str, Any]] = [
        {
            "name": d.get("name") or f"disk{i}",
            "type": d["format"],
            "file": d["file"],
            "interface": d["interface"],
            "media": d["media"],
        }
        for i, d in enumerate(cfg.get("disks") or [])
    ]
    entries += [
        {"name": s.get("name") or f"share{i}", "type": "virtfs"}
        | {k: v for k, v in s.items() if k != "name"}
        for i, s in enumerate(cfg.get("shares") or [])
    ]
    if entries:
        out["storage"] = entries
    out.update({k: cfg[k] for k in OUR_KEYS if cfg.get(k)})
    return out


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
