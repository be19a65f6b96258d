"""Liveness, readiness, and what happens when the database goes away and comes back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from service import migrate
from service.auth import service as auth_service
from service.auth.models import Role
from service.config import Settings
from service.main import create_app
from tests.tcp_proxy import TcpProxy


def test_healthz_needs_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_the_migrated_schema(client, app):
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["schema_revision"] == migrate.head_revision()
    assert body["database"] == app.state.engine.dialect.name


def test_readyz_is_503_on_an_unmigrated_database(tmp_path):
    client = TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_unreachable_database_gives_503_on_readyz_and_data_routes():
    url = "postgresql+psycopg://postgres@127.0.0.1:1/civic?connect_timeout=2"
    client = TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    data = client.get("/v1/me", headers={"Authorization": "Bearer civic_x"})
    assert data.status_code == 503
    assert data.headers["content-type"] == "application/problem+json"
    assert data.headers["retry-after"] == "5"


def test_service_recovers_by_itself_when_the_database_returns(postgres_database):
    url = make_url(postgres_database())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(database_url=proxied + "?connect_timeout=2")
    migrate.upgrade(settings)
    app = create_app(settings)
    with app.state.sessionmaker() as session:
        _, key = auth_service.create_key(session=session, name="ops", role=Role.admin)
        session.commit()
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        assert client.get("/v1/me", headers=headers).status_code == 200
        proxy.stop()
        assert client.get("/readyz").status_code == 503
        assert client.get("/v1/me", headers=headers).status_code == 503
        proxy.start()
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/me", headers=headers).status_code == 200
    finally:
        proxy.stop()
        app.state.engine.dispose()


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_docs_need_no_key(client, path):
    assert client.get(path).status_code == 200
