"""``python -m quaddmft``: the command line of quaddmft.cli."""

import sys

from .cli import main

sys.exit(main())
