"""Whether a service answers at all: a TCP connection to a URL's host and port.

The demo, the bench and the tests ask this first, so that a missing RabbitMQ or PostgreSQL
gets one clear line instead of a client library's retries and traceback.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def reachable(url: str, default_port: int, timeout: float = 3.0) -> bool:
    """True if a TCP connection to ``url``'s host and port opens within ``timeout``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout
        ):
            return True
    except OSError:
        return False
