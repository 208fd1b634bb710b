"""`python -m tuieval` runs the same command-line entry point as the `tuieval` script."""

from tuieval.cli import main

if __name__ == "__main__":
    main()
