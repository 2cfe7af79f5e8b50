"""`maqet-tui image build | ls | import | rm`: the disk images VMs are made from.

Progress goes to stderr (a build takes a minute or two); what a script wants (paths, JSON) goes
to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from maqet_tui.cli.common import paths

Cmd = Callable[[str, str], argparse.ArgumentParser]
IMAGE = "the image's name (image ls lists them)"


def add_parsers(cmd: Cmd) -> None:
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="data directory (default: $MAQET_TUI_HOME or the XDG data dir)",
    )
    p = cmd("image", "disk images VMs are made from ($MAQET_TUI_IMAGES, else HOME/images)")
    sub = p.add_subparsers(
        dest="image_cmd", metavar="ACTION", required=True, help="build, ls, import or rm"
    )

    def action(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[home], help=help, description=help)

    b = action(
        "build", "build an image from Debian packages (cached: rebuilt when its recipe changes)"
    )
    b.add_argument("name", help="the recipe: debian-12")
    b.add_argument(
        "--force", action="store_true", help="rebuild even when the cached image is current"
    )
    ls = action("ls", "list images")
    ls.add_argument("--json", action="store_true", help="print JSON (fields in architecture.md)")
    i = action("import", "add a qcow2 or raw disk image you already have (it boots via firmware)")
    i.add_argument("name", help="a name for it: 1-63 letters, digits, '.', '_' or '-'")
    i.add_argument("file", help="the qcow2 or raw image file (copied; raw is converted to qcow2)")
    i.add_argument("--user", help="the account its cloud-init creates (e.g. debian), for ssh")
    r = action("rm", "delete an image (refused while a VM's disk is backed by it)")
    r.add_argument("name", help=IMAGE)


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_build(args: argparse.Namespace) -> int:
    from maqet_tui.core.image_build import build_image

    # A build killed by `kill` or an SSH hang-up cleans up like one interrupted by Ctrl-C: it
    # stops mmdebstrap (which unmounts what it mounted) and removes its temporary directory.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    start = time.monotonic()

    def show(phase: str) -> None:
        print(
            f"[{time.monotonic() - start:4.0f}s] {args.name}: {phase}", file=sys.stderr, flush=True
        )

    try:
        image, built = build_image(paths(args), args.name, force=args.force, progress=show)
    except KeyboardInterrupt:
        print(f"{args.name}: build interrupted; nothing was kept", file=sys.stderr)
        return 130
    if not built:
        print(
            f"{image.name} is up to date (built {_when(image.built_at)}; --force rebuilds)",
            file=sys.stderr,
        )
    print(image.disk)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from maqet_tui.core.images import human_size, image_to_json, list_images

    images = list_images(paths(args))
    if args.json:
        print(json.dumps([image_to_json(i) for i in images], indent=2))
        return 0
    print(f"{'NAME':20} {'FORMAT':6} {'SIZE':>7} {'BUILT':16} PATH")
    for i in images:
        print(
            f"{i.name:20} {i.format:6} {human_size(i.virtual_size):>7} {_when(i.built_at):16} {i.disk}"
        )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from maqet_tui.core.image_import import import_image
    from maqet_tui.core.images import human_size

    image = import_image(paths(args), args.name, Path(args.file), user=args.user)
    print(f"imported {image.name}: {image.disk} ({image.format}, {human_size(image.virtual_size)})")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from maqet_tui.core.image_import import remove_image

    image = remove_image(paths(args), args.name)
    print(f"removed image {image.name}")
    return 0


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "build": cmd_build,
    "ls": cmd_ls,
    "import": cmd_import,
    "rm": cmd_rm,
}


def cmd_image(args: argparse.Namespace) -> int:
    return ACTIONS[args.image_cmd](args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"image": cmd_image}
