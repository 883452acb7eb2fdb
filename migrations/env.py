"""Alembic environment: the service's own engine and metadata (no Flask-SQLAlchemy)."""

from __future__ import annotations

from alembic import context
from flask import current_app

config = context.config
target = current_app.extensions["migrate"].db
configure_args = current_app.extensions["migrate"].configure_args


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(url=target.engine.url.render_as_string(hide_password=False),
                      target_metadata=target.metadata, literal_binds=True, **configure_args)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over a connection of the service's engine."""
    with target.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target.metadata,
                          **configure_args)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
