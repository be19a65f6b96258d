"""Every error is problem+json with a request id; internals never leak."""

from __future__ import annotations

import json
import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import DataError

from service.config import Settings
from service.db import make_sessionmaker
from service.main import create_app

PROBLEM = "application/problem+json"


def test_unknown_route_is_404_problem(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["instance"] == "/v1/nothing-here"


def test_wrong_method_is_405_problem(client):
    response = client.put("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


def test_405_allows_every_method_of_the_url_not_just_one_route(client):
    # Each method of a URL is its own route; Allow named only the first one's.
    assert client.options("/v1/keys").headers["allow"] == "GET, POST"
    response = client.put(f"/v1/studies/{uuid.uuid4()}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH, DELETE"
    assert "GET, PATCH, DELETE" in response.json()["detail"]


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    problem = client.get("/v1/me")
    assert problem.json()["request_id"] == problem.headers["x-request-id"]


def _log_lines(capsys) -> list[dict]:
    return [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]


def test_unexpected_error_is_500_without_internals(database_url, capsys):
    app = create_app(Settings(database_url=database_url))

    def explode():
        raise RuntimeError("participant P07 said something private")

    app.add_api_route("/boom", explode)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert "private" not in response.text and "Traceback" not in response.text
    lines = _log_lines(capsys)
    assert "private" not in json.dumps(lines)
    errors = [line for line in lines if line["logger"] == "civic.errors"]
    assert errors[0]["exception"] == "RuntimeError"
    assert errors[0]["request_id"] == body["request_id"]


def test_a_value_the_database_refuses_is_422_not_500(database_url, capsys):
    # PostgreSQL refuses a NUL in text or an out-of-range integer with a DataError;
    # validation should catch each first, and this is the net when it does not.
    app = create_app(Settings(database_url=database_url))

    def refuse():
        raise DataError("INSERT ...", {"v": "participant P07"}, ValueError("NUL byte"))

    app.add_api_route("/refuse", refuse)
    response = TestClient(app, raise_server_exceptions=False).get("/refuse")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "P07" not in response.text
    warnings = [line for line in _log_lines(capsys) if line["message"] == "data error"]
    assert warnings and "P07" not in json.dumps(warnings)


def test_access_log_has_metadata_and_no_secrets(database_url, admin, capsys):
    client = TestClient(create_app(Settings(database_url=database_url, log_level="INFO")))
    capsys.readouterr()
    client.post("/v1/keys", json={"name": "sensitive-name-xyz", "role": "clinician"}, headers=admin)
    output = capsys.readouterr().err
    line = [json.loads(raw) for raw in output.splitlines() if '"civic.access"' in raw][-1]
    token = admin["Authorization"].split()[1]
    assert token not in output and "sensitive-name-xyz" not in output
    assert line["route"] == "/v1/keys" and line["status"] == 201
    assert line["principal"] == "test-admin" and line["method"] == "POST"
    assert line["request_id"] and line["duration_ms"] >= 0


def test_an_exhausted_connection_pool_is_503_not_500(database_url, make_key):
    headers = make_key("researcher")
    app = create_app(Settings(database_url=database_url))
    tiny = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    app.state.sessionmaker = make_sessionmaker(tiny)
    with tiny.connect():  # the pool's only connection stays busy
        response = TestClient(app, raise_server_exceptions=False).get("/v1/me", headers=headers)
    tiny.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert "overloaded" in response.json()["detail"]
