"""Bodies: malformed JSON, unknown fields, size limit, content type."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app

PROBLEM = "application/problem+json"


def test_malformed_json_is_422_problem(client, admin):
    response = client.post(
        "/v1/keys", content=b'{"name": ', headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"]


def test_a_body_that_is_not_utf8_is_422_like_any_malformed_json(client, admin):
    # json.loads raised UnicodeDecodeError, which FastAPI turned into a bare 400 that no
    # route documents.
    response = client.post(
        "/v1/keys",
        content='{"name": "café", "role": "admin"}'.encode("latin-1"),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [
        {"loc": ["body", 13], "msg": "invalid UTF-8", "type": "json_invalid"}
    ]


def test_json_nested_past_the_parsers_limit_is_422_not_400(client, admin):
    # json.loads hit the recursion limit, which FastAPI also turned into a bare 400.
    response = client.post(
        "/v1/studies",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["type"] == "json_invalid"


def test_a_nul_in_the_url_is_422_naming_the_parameter(client, admin):
    # %00 reached PostgreSQL, which refuses NUL in text: a 500 there.
    response = client.get("/v1/themes/search", params={"q": "walk\x00"}, headers=admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [
        {"loc": ["query", "q"], "msg": "may not contain NUL characters", "type": "string_nul"}
    ]
    response = client.get("/v1/frameworks/civic%00/versions/2", headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "slug"]
    # A query parameter the route does not take is ignored, as any other.
    assert client.get("/v1/me?x=%00", headers=admin).status_code == 200


def test_unknown_field_is_422_naming_it(client, admin):
    response = client.post(
        "/v1/keys", json={"name": "a", "role": "admin", "colour": "red"}, headers=admin
    )
    assert response.status_code == 422
    assert ["body", "colour"] in [error["loc"] for error in response.json()["errors"]]


def test_wrong_content_type_is_415(client, admin):
    response = client.post(
        "/v1/keys",
        content=b"name=a",
        headers={**admin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("declare_length", [True, False])
def test_body_over_the_limit_is_413(database_url, declare_length):
    app = create_app(Settings(database_url=database_url, max_body_bytes=2048))
    client = TestClient(app)
    body = b'{"name": "' + b"x" * 5000 + b'", "role": "admin"}'

    def chunks():
        yield body[:1000]
        yield body[1000:]

    headers = {"Content-Type": "application/json", "Authorization": "Bearer whatever"}
    response = client.post(
        "/v1/keys", content=body if declare_length else chunks(), headers=headers
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
