"""Security review: response headers and what the error log may hold."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app


def test_every_response_is_nosniff_and_uncacheable_unless_it_says_otherwise(client, admin):
    created = client.post("/v1/keys", json={"name": "app", "role": "clinician"}, headers=admin)
    assert created.status_code == 201 and created.json()["key"]
    assert created.headers["cache-control"] == "no-store"  # the secret, shown once
    for response in (
        created,
        client.get("/healthz"),
        client.get("/v1/me"),  # 401
        client.get("/openapi.json"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    # Codebooks are no health data: their ETag caching is kept.
    framework = client.get("/v1/frameworks/civic/versions/2", headers=admin)
    assert framework.headers["cache-control"] == "private, no-cache"
    assert framework.headers["x-content-type-options"] == "nosniff"


def test_the_error_log_names_the_route_not_the_raw_path(database_url, capsys):
    app = create_app(Settings(database_url=database_url))

    def explode(label: str):
        raise RuntimeError("boom")

    app.add_api_route("/boom/{label}", explode)
    response = TestClient(app, raise_server_exceptions=False).get("/boom/P07-lives-in-Leeds")
    assert response.status_code == 500
    assert response.headers["cache-control"] == "no-store"
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    errors = [line for line in lines if line["logger"] == "civic.errors"]
    assert errors and errors[0]["route"] == "/boom/{label}"
    ours = [line for line in lines if line["logger"].startswith("civic.")]  # not httpx's
    assert "P07-lives-in-Leeds" not in json.dumps(ours)
