"""Alembic environment: the service's own metadata and database URL."""

from __future__ import annotations

from alembic import context

from service import models  # noqa: F401  (registers every table)
from service.config import get_settings
from service.db import create_db_engine, metadata

config = context.config
url = config.attributes.get("database_url") or get_settings().database_url


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=url.startswith("sqlite"),  # SQLite alters tables by copying them
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    from service.config import Settings

    engine = create_db_engine(Settings(database_url=url), pooled=False)
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
