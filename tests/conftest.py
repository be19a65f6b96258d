"""Test harness: every API test runs through real HTTP against the app, once on SQLite
and once on PostgreSQL, each on a database built by the migrations.

PostgreSQL: a throwaway database is created on the server named by
CIVIC_TEST_POSTGRES_URL (default: the local server). When it cannot be reached those
runs are skipped and the summary says so; with CIVIC_REQUIRE_POSTGRES=1 (set by CI)
they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from service import migrate, seed
from service.auth import service as auth_service
from service.auth.models import Role
from service.config import Settings
from service.db import metadata
from service.main import create_app

POSTGRES_ADMIN_URL = os.environ.get(
    "CIVIC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("CIVIC_REQUIRE_POSTGRES") == "1"


def _postgres_admin_engine() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


SKIP_MARK = "PostgreSQL unreachable"


def _postgres_unavailable(exc: Exception) -> None:
    reason = f"{SKIP_MARK} at {make_url(POSTGRES_ADMIN_URL).render_as_string()}: "
    reason += type(exc).__name__
    if REQUIRE_POSTGRES:
        pytest.fail(reason + " (CIVIC_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Callable[[], str]]:
    """Factory of fresh, empty PostgreSQL databases; all dropped at the end."""
    created: list[str] = []
    admin: Engine | None = None

    def new_database() -> str:
        nonlocal admin
        try:
            admin = admin or _postgres_admin_engine()
            name = f"civic_test_{uuid.uuid4().hex[:12]}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            _postgres_unavailable(exc)
        created.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield new_database
    if admin is not None and created:
        with admin.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory, postgres_database) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'civic.db'}"
    else:
        url = postgres_database()
    migrate.upgrade(Settings(database_url=url))
    return url


@pytest.fixture(scope="session")
def app(database_url: str) -> FastAPI:
    return create_app(Settings(database_url=database_url, log_level="WARNING"))


def reset_database(app: FastAPI) -> None:
    """Empty every table (keeping the schema) and load the built-in data again."""
    engine: Engine = app.state.engine
    tables = list(reversed(metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())
    with app.state.sessionmaker() as session:
        seed.load_builtin(session=session)
        session.commit()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    reset_database(app)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_key(app: FastAPI, client: TestClient) -> Callable[..., dict[str, str]]:
    """Create a principal with an API key; returns the Authorization header for it."""

    def make(role: Role | str = Role.researcher, name: str | None = None) -> dict[str, str]:
        with app.state.sessionmaker() as session:
            _, key = auth_service.create_key(
                session=session, name=name or f"{role}-{uuid.uuid4().hex[:6]}", role=Role(role)
            )
            session.commit()
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
def admin(make_key) -> dict[str, str]:
    return make_key(Role.admin, "test-admin")


@pytest.fixture
def researcher(make_key) -> dict[str, str]:
    return make_key(Role.researcher, "test-researcher")


def pytest_terminal_summary(terminalreporter) -> None:
    # Read from the skip reports so it also works when xdist workers ran the tests.
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if SKIP_MARK in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(
            f"NOTE: {len(skipped)} PostgreSQL runs were SKIPPED ({SKIP_MARK} at "
            f"{make_url(POSTGRES_ADMIN_URL).render_as_string()}). Only SQLite was tested. "
            "Set CIVIC_REQUIRE_POSTGRES=1 to make this a failure.",
            yellow=True,
            bold=True,
        )
