"""Alembic, driven from code: the CLI, the tests and the readiness probe share it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from service.config import Settings


def migrations_dir() -> Path:
    # A source checkout has migrations/ beside service/; the container image puts it
    # in the working directory.
    beside_package = Path(__file__).resolve().parent.parent / "migrations"
    return beside_package if beside_package.is_dir() else Path.cwd() / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = settings.database_url
    return config


@lru_cache
def head_revision() -> str:
    return ScriptDirectory(str(migrations_dir())).get_current_head() or "base"


def upgrade(settings: Settings, revision: str = "head") -> None:
    if settings.is_sqlite and (path := settings.sqlite_path()) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
