"""The Textual front end. Only this package may import textual."""
