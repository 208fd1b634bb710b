"""CLI commands that live in their own modules, each registered in tuieval/cli.py with one line."""
