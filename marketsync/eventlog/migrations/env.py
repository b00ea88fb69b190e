"""Alembic environment: runs migrations on the connection marketsync hands it."""

from __future__ import annotations

from alembic import context

from marketsync.eventlog.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = config.attributes["engine"]
        with engine.begin() as connection:
            context.configure(connection=connection, target_metadata=metadata)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=metadata)
    context.run_migrations()


run()
