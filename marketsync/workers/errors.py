"""Errors a worker loop decides on, shared by the loops and the broker adapter."""


class TransientFailure(Exception):
    """The step could not commit now (e.g. the database is down); retry it unchanged."""
