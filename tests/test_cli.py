"""The `civic` command line."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from typer.testing import CliRunner

from service import cli
from service.auth.models import ApiKey
from service.config import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CIVIC_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _count_keys(url: str) -> int:
    with cli._session(Settings(database_url=url)) as session:
        return session.scalar(select(func.count()).select_from(ApiKey))


def test_first_start_creates_one_admin_key_and_only_once(sqlite_env):
    first = cli.prepare(Settings(database_url=sqlite_env))
    assert first and first.startswith("civic_")
    assert cli.prepare(Settings(database_url=sqlite_env)) is None
    assert _count_keys(sqlite_env) == 1


def test_configured_admin_key_is_honoured(sqlite_env):
    settings = Settings(
        database_url=sqlite_env, admin_key="civic_configured-secret-key-long-enough"
    )
    assert cli.prepare(settings) is None
    assert cli.prepare(settings) is None
    assert _count_keys(sqlite_env) == 1


def test_a_short_admin_key_is_refused_with_advice(monkeypatch):
    monkeypatch.setenv("CIVIC_ADMIN_KEY", "civic_admin")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "at least 32 characters" in message and "token_urlsafe" in message
    assert "civic_admin" not in message  # the refused secret is not echoed


def test_keys_create_prints_a_key_once(sqlite_env):
    result = runner.invoke(cli.app, ["keys", "create", "--role", "researcher", "--name", "ana"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("civic_")


def test_db_commands(sqlite_env):
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli.app, ["db", "downgrade", "base"]).exit_code == 0
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0


def test_openapi_command_writes_the_document(tmp_path):
    target = tmp_path / "openapi.json"
    result = runner.invoke(cli.app, ["openapi", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["info"]["title"] == "CIVIC service"
