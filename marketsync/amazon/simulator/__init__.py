"""A local stand-in for Amazon's SP-API (LWA tokens, Feeds API 2021-06-30, JSON_LISTINGS_FEED)
that the real ``python-amazon-sp-api`` client talks to over HTTP. Used by the demo, the
integration tests and dry runs.

    config.py  SimulatorConfig from Settings and the [simulator] TOML table
    rules.py   pure judgement of JSON_LISTINGS_FEED messages and processing reports
    state.py   the in-memory Amazon (thread-safe, injectable clock)
    app.py     the Flask app: SP-API routes, presigned document URLs, /_simulator control
    server.py  SimulatorServer (background thread) and serve() (foreground, for the CLI)
"""

from .app import create_app
from .config import AccountCredentials, Faults, Hold, ServerError, SimulatorConfig, parse_faults
from .rules import Issue, Listing, Rules, evaluate_message, process_feed
from .server import SimulatorServer, serve
from .state import LwaError, SimulatorError, SimulatorState

__all__ = [
    "AccountCredentials",
    "Faults",
    "Hold",
    "Issue",
    "Listing",
    "LwaError",
    "Rules",
    "ServerError",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorServer",
    "SimulatorState",
    "create_app",
    "evaluate_message",
    "parse_faults",
    "process_feed",
    "serve",
]
