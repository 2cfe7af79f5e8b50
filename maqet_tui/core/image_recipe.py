"""What goes into a built image: the recipes `image build NAME` knows, and the hash that caches them.

A recipe is data (suite, mirrors, packages, files written into the root filesystem, units
masked), so everything that shapes the image is in one place and in one hash: change a package
or a line of a config file and the next build is a rebuild; change nothing and it is a cache hit.

Everything here exists so that a guest boots on a lab host with no network but the package
registry, and never calls out on its own: no NTP, no apt timers, cloud-init only reading the
NoCloud seed a VM is given (or nothing), no package updates at first boot, no fallback DNS.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

# Bump when the build changes in a way the recipe data cannot show (e.g. the mke2fs options).
FORMAT_VERSION = 1

# systemd-networkd configures every wired interface QEMU gives the guest (enp0s1 on q35, ens3 on
# pc, eth0 with net.ifnames=0): one file matching them all, DHCP on IPv4 and IPv6.
NETWORK = """\
[Match]
Name=en* eth*

[Network]
DHCP=yes

[DHCPv4]
UseDomains=yes
"""

# cloud-init: the NoCloud seed (a `cidata` volume) or nothing; never a network datasource, never
# package updates; networking is the file above, not cloud-init's fallback renderer. The locale
# is C.UTF-8, as /etc/default/locale already says, so cloud-init generates none (en_US would need
# the `locales` package).
CLOUD_CFG = """\
datasource_list: [NoCloud, None]
network: {config: disabled}
package_update: false
package_upgrade: false
package_reboot_if_required: false
locale: C.UTF-8
apt:
  preserve_sources_list: true
"""

# No fallback DNS servers on the internet; no link-local name protocols chattering on the LAN.
RESOLVED = """\
[Resolve]
FallbackDNS=
LLMNR=no
MulticastDNS=no
"""

# Host keys are made on the guest's first boot (never shipped in the image, or every VM made
# from it would share them); cloud-init usually makes them first, this is the fallback.
SSH_KEYGEN = """\
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""

# "Network is online" means one interface is configured, or 15 s have passed: a VM with no
# network at all (`--net none`) would otherwise hold cloud-init's later stages for two minutes
# and show a failed unit on every boot.
WAIT_ONLINE = """\
[Service]
ExecStart=
ExecStart=-/lib/systemd/systemd-networkd-wait-online --any --timeout=15
"""

FSTAB = "/dev/vda / ext4 rw,discard,errors=remount-ro 0 1\n"

# The initramfs must find the root disk whatever initramfs-tools' guess of the hardware was.
INITRAMFS_MODULES = "virtio_pci\nvirtio_blk\next4\n"

# Timers and services that reach out to the network, or would rewrite the image's packages.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "apt-daily.service",
    "apt-daily-upgrade.service",
    "systemd-timesyncd.service",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
)

MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)

PACKAGES = (
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "e2fsprogs",
    "systemd-sysv",
    "systemd-resolved",
    "udev",
    "dbus",
    "openssh-server",
    "qemu-guest-agent",
    "cloud-init",
    "sudo",
    "iproute2",
    "procps",
    "less",
)

# Documentation, manual pages and translations: a third of the root filesystem, read by nobody.
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)


@dataclass(frozen=True)
class Recipe:
    """One image `image build` can make. `files` maps absolute guest paths to their content."""

    name: str
    suite: str
    mirrors: tuple[str, ...]
    packages: tuple[str, ...]
    dpkg_options: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)
    masked_units: tuple[str, ...] = ()
    user: str = ""
    append: str = ""
    disk_size: str = ""
    hostname: str = ""


DEBIAN_12 = Recipe(
    name="debian-12",
    suite="bookworm",
    mirrors=MIRRORS,
    packages=PACKAGES,
    dpkg_options=DPKG_OPTIONS,
    files={
        "/etc/systemd/network/20-wired.network": NETWORK,
        "/etc/cloud/cloud.cfg.d/99-maqet-tui.cfg": CLOUD_CFG,
        "/etc/systemd/resolved.conf.d/maqet-tui.conf": RESOLVED,
        "/etc/systemd/system/ssh.service.d/maqet-tui-keygen.conf": SSH_KEYGEN,
        "/etc/systemd/system/systemd-networkd-wait-online.service.d/maqet-tui.conf": WAIT_ONLINE,
        "/etc/fstab": FSTAB,
        "/etc/initramfs-tools/modules": INITRAMFS_MODULES,
        "/etc/hostname": "debian\n",
        "/etc/default/locale": "LANG=C.UTF-8\n",
    },
    masked_units=MASKED_UNITS,
    # Debian's cloud.cfg names this default user; cloud-init creates it with a locked password
    # and the seed's SSH keys (root gets no password and no keys).
    user="debian",
    append="root=/dev/vda rw console=ttyS0",
    # The ext4 filesystem's size: the qcow2 file holds only what is used (about 700 MB);
    # a VM's overlay can be made larger and cloud-init grows the filesystem to it.
    disk_size="4G",
    hostname="debian",
)

RECIPES: dict[str, Recipe] = {DEBIAN_12.name: DEBIAN_12}


def recipe_hash(recipe: Recipe) -> str:
    """A stable digest of everything the recipe and the build's format put into the image."""
    data = {
        "format": FORMAT_VERSION,
        "name": recipe.name,
        "suite": recipe.suite,
        "mirrors": list(recipe.mirrors),
        "packages": sorted(recipe.packages),
        "dpkg_options": list(recipe.dpkg_options),
        "files": dict(sorted(recipe.files.items())),
        "masked_units": sorted(recipe.masked_units),
        "user": recipe.user,
        "append": recipe.append,
        "disk_size": recipe.disk_size,
        "hostname": recipe.hostname,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
