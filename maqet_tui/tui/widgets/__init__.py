"""Widgets of the main screen: the VM table, the host header and the detail panes."""
