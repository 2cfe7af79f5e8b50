# Functions for scripts/setup, kept apart so that tests can run each one with a fake PATH and HOME
# (tests/unit/test_setup_script.py). Sourced from the checkout's root; every message is one line
# on stderr starting with "setup:".

# The Debian packages for the commands this project needs that are not on PATH.
missing_packages() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null || missing+=(qemu-utils)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v dpkg-deb >/dev/null || missing+=(dpkg)
  command -v tmux >/dev/null || missing+=(tmux)  # the tests drive the TUI in a real terminal
  # Disk images (`image build`) and guests reached over SSH. mke2fs and mkfs.vfat live in sbin,
  # which a plain user's PATH may lack.
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v mke2fs >/dev/null || [ -x /sbin/mke2fs ] || [ -x /usr/sbin/mke2fs ] ||
    missing+=(e2fsprogs)
  command -v mkfs.vfat >/dev/null || [ -x /sbin/mkfs.vfat ] || [ -x /usr/sbin/mkfs.vfat ] ||
    missing+=(dosfstools)
  command -v mcopy >/dev/null || missing+=(mtools)
  command -v ssh >/dev/null || missing+=(openssh-client)  # --host: the fleet goes over ssh
  # the fleet tests start their own sshd on 127.0.0.1 (sbin is not on every user's PATH)
  command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  echo "${missing[@]+"${missing[@]}"}"
}

# apt-get install PACKAGES as root or through sudo; a plain user without sudo is told what to ask
# an administrator for (rather than meeting "sudo: command not found").
install_packages() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "setup: missing $*, and this user can neither install them (not root, no sudo):" \
        "ask an administrator to run: apt-get install $*" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  echo "setup: installing $* with apt-get" >&2
  "${sudo[@]+"${sudo[@]}"}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]+"${sudo[@]}"}" apt-get install -y -qq "$@" >/dev/null
}

# Whether .venv works for this user here: its interpreter runs, and the installed script points
# into this .venv (a .venv copied from another user or checkout points at theirs, and fails with
# "Permission denied" or runs their code).
venv_usable() {
  [ -x .venv/bin/python ] && .venv/bin/python -c '' 2>/dev/null || return 1
  [ -e .venv/bin/maqet-tui ] || return 0
  local shebang
  shebang=$(head -n 1 .venv/bin/maqet-tui)
  shebang=${shebang#\#!}
  [ "$(readlink -f "$(dirname "$shebang")")" = "$(readlink -f .venv/bin)" ]
}

# Put `maqet-tui` on PATH as the README uses it: a link in ~/.local/bin (or $XDG_BIN_HOME) to
# this checkout's .venv/bin/maqet-tui. Someone else's file there is left alone, and a one-line
# note says so, or says how to put the directory on PATH when it is not.
link_cli() {
  local bin="${XDG_BIN_HOME:-$HOME/.local/bin}" target="$PWD/.venv/bin/maqet-tui"
  local link="$bin/maqet-tui"
  if [ -L "$link" ] && { [ "$(readlink "$link")" = "$target" ] || [ ! -e "$link" ]; }; then
    ln -sfn "$target" "$link"
  elif [ ! -e "$link" ] && [ ! -L "$link" ]; then
    mkdir -p "$bin" && ln -s "$target" "$link"
  else
    echo "setup: $link is not this checkout's (left alone); run $target instead" >&2
    return 0
  fi
  case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "setup: maqet-tui is linked in $bin, which is not on PATH; add it:" \
      "export PATH=\"$bin:\$PATH\" (e.g. in ~/.profile), or run $target" >&2 ;;
  esac
}
