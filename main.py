"""Entry point: no arguments opens the desktop app; subcommands go to designer.cli."""

import sys

from designer.cli import main

if __name__ == "__main__":
    sys.exit(main())
