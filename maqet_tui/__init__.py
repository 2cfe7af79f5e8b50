"""maqet-tui: QEMU VMs on lab hosts, one runner process per VM, driven from a CLI or a Textual TUI.

Importing this package must stay cheap: the CLI's start-up time is a product feature, so nothing here
imports peewee, qemu.qmp, psutil or textual.
"""

__version__ = "0.1.0"
