"""Run the simulator over HTTP: in a background thread (tests, demos) or in the foreground
until SIGTERM/SIGINT (``marketsync simulator``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

import structlog
from werkzeug.serving import BaseWSGIServer, make_server

from marketsync.settings import Settings

from .app import PUBLIC_URL, create_app
from .config import SimulatorConfig
from .state import SimulatorState

log = structlog.get_logger(__name__)


class SimulatorServer:
    """The simulator on werkzeug's threaded server. ``port=0`` picks a free port."""

    def __init__(
        self,
        state: SimulatorState,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
    ) -> None:
        self.state = state
        self._host, self._port, self._public_url = host, port, public_url
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where clients reach the simulator, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("the simulator server is not started")
        if self._public_url:
            return self._public_url.rstrip("/")
        host = self._host if self._host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{host}:{self._server.server_port}"

    def start(self) -> SimulatorServer:
        if self._server is not None:
            return self
        app = create_app(self.state)
        self._server = make_server(self._host, self._port, app, threaded=True)
        app.config[PUBLIC_URL] = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sp-api-simulator",
            daemon=True,
        )
        self._thread.start()
        log.info("simulator_started", url=self.url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server, self._thread = None, None
        log.info("simulator_stopped")

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8700,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the simulator for ``settings`` until SIGTERM or SIGINT; ``on_ready(url)`` once up."""
    config = SimulatorConfig.from_settings(settings)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("simulator_signal", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with SimulatorServer(SimulatorState(config), host, port, config.public_url) as server:
            if on_ready is not None:
                on_ready(server.url)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
