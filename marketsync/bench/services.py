"""The run's own broker space and databases: made when the run starts, removed when it ends.

* RabbitMQ: a vhost ``marketsync-bench-<id>`` made with ``rabbitmqctl`` (a local broker).
  Where ``rabbitmqctl`` cannot make one, the configured vhost is used; either way every
  measurement declares its exchange and queues under a prefix of its own and deletes them.
* PostgreSQL: one database ``marketsync_bench_<id>_<name>`` per measurement, dropped after.
* SQLite: files in a scratch directory, removed after.

Only what this run made is removed. Errors::

    BenchUnavailable     a service the bench needs cannot be reached or set up
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa

from marketsync.reachability import reachable

CTL_TIMEOUT = 60.0


class BenchUnavailable(Exception):
    """A service the bench needs cannot be reached or set up."""


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _ctl(*args: str) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=CTL_TIMEOUT
    )


def _admin_engine(server_url: str) -> sa.Engine:
    url = server_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@dataclass
class Sandbox:
    """Names and URLs of this run's own resources."""

    run_id: str
    amqp_url: str
    postgres_server: str
    scratch: Path
    vhost: str | None = None
    _databases: list[str] = field(default_factory=list)

    def prefix(self, name: str) -> str:
        """A Topology prefix for one measurement."""
        return f"marketsync-bench-{self.run_id}-{name}"

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{self.scratch / f'{name}.db'}"

    def sqlite_path(self, name: str) -> Path:
        return self.scratch / f"{name}.db"

    def postgres_url(self, name: str) -> str:
        """A new, empty PostgreSQL database for one measurement."""
        database = f"marketsync_bench_{self.run_id}_{name}".replace("-", "_")
        engine = _admin_engine(self.postgres_server)
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        except sa.exc.SQLAlchemyError as e:
            raise BenchUnavailable(f"cannot create PostgreSQL database {database}: {e}") from e
        finally:
            engine.dispose()
        self._databases.append(database)
        return _with_path(self.postgres_server, f"/{database}")

    def drop_postgres(self, url: str) -> None:
        """Drop a database this run made (early, to give the space back)."""
        database = urlsplit(url).path.lstrip("/")
        if database not in self._databases:
            return
        engine = _admin_engine(self.postgres_server)
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        finally:
            engine.dispose()
        self._databases.remove(database)

    def close(self) -> None:
        for database in list(self._databases):
            self.drop_postgres(_with_path(self.postgres_server, f"/{database}"))
        if self.vhost is not None:
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_vhost", self.vhost],
                capture_output=True,
                timeout=CTL_TIMEOUT,
                check=False,
            )
        shutil.rmtree(self.scratch, ignore_errors=True)


def _own_vhost(amqp_url: str, name: str) -> str | None:
    """Make vhost ``name`` for the URL's user; None when rabbitmqctl cannot."""
    if shutil.which("rabbitmqctl") is None:
        return None
    try:
        _ctl("add_vhost", name)
        _ctl("set_permissions", "-p", name, urlsplit(amqp_url).username or "guest", *[".*"] * 3)
    except (OSError, subprocess.SubprocessError):
        subprocess.run(
            ["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, check=False
        )
        return None
    return name


@contextmanager
def sandbox(
    amqp_url: str, postgres_server: str, scratch_dir: Path | None = None
) -> Iterator[Sandbox]:
    """This run's resources; everything made here is removed on exit."""
    if not reachable(amqp_url, 5672):
        raise BenchUnavailable(f"RabbitMQ is not reachable at {urlsplit(amqp_url).hostname}")
    if not reachable(postgres_server, 5432):
        raise BenchUnavailable(
            f"PostgreSQL is not reachable at {urlsplit(postgres_server).hostname}"
        )
    run_id = uuid.uuid4().hex[:8]
    vhost = _own_vhost(amqp_url, f"marketsync-bench-{run_id}")
    url = _with_path(amqp_url, "/" + quote(vhost, safe="")) if vhost else amqp_url
    scratch = Path(tempfile.mkdtemp(prefix=f"marketsync-bench-{run_id}-", dir=scratch_dir))
    box = Sandbox(run_id=run_id, amqp_url=url, postgres_server=postgres_server, scratch=scratch)
    box.vhost = vhost
    try:
        yield box
    finally:
        box.close()
