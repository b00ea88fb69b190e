"""``python -m marketsync``: the same as the ``marketsync`` command."""

import sys

from marketsync.cli import main

if __name__ == "__main__":  # not when a child process (the batcher's recorder) starts
    sys.exit(main())
