"""The one database error the rest of the program handles, in a module of its own.

It imports nothing, so a process that never opens the database itself (the batcher's
receiving half, the command line before it dispatches) can catch it without loading
SQLAlchemy and the driver: about 20 MB of a batcher's memory, which is a benchmark target.
"""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """The database cannot be reached or refused the operation; retry later."""
