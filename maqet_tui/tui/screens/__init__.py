"""Screens: the main screen and the modal dialogs (help, VM form, confirmation)."""
