"""Background work for the TUI: store watching, runner subscriptions, stats and log tails.

Nothing here touches a widget; services report by posting messages (see `..messages`).
"""
