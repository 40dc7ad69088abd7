"""``python -m quaddmft``: the command line of quaddmft.cli."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
