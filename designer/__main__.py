"""``python -m designer``: the same as the ``resnet-designer`` command."""

import sys

from designer.cli import main

if __name__ == "__main__":
    sys.exit(main())
