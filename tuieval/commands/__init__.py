"""CLI commands that live in their own module, each registered in tuieval/cli.py with one line."""
