"""``python -m marketsync``: the same as the ``marketsync`` command."""

import sys

from marketsync.cli import main

sys.exit(main())
