"""Command-line commands that live in their own modules, registered on `tuieval.cli.cli`."""
