"""CLI commands that live in their own modules; each is registered in tuieval/cli.py with one line."""
