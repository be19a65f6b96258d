"""The committed OpenAPI document is the app's, and every operation is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.config import Settings
from service.main import create_app

SNAPSHOT = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
OPERATION_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
PUBLIC = {"/healthz", "/readyz"}


@pytest.fixture(scope="module")
def document() -> dict:
    return create_app(Settings(database_url="sqlite://")).openapi()


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_committed_snapshot_matches_the_app(document):
    committed = json.loads(SNAPSHOT.read_text())
    assert committed == document, "openapi/openapi.json is stale: run `civic openapi`"


def test_every_operation_is_documented_for_client_generators(document):
    ids = []
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("tags"), where
        assert operation.get("summary"), where
        assert OPERATION_ID.match(operation["operationId"]), where
        ids.append(operation["operationId"])
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, where
        if path not in PUBLIC:
            assert "401" in operation["responses"], where
        # What any route can answer: a body too large or of the wrong type; a database
        # that cannot be reached (everywhere but the liveness probe).
        expected = {"413", "415"} if "requestBody" in operation else set()
        expected |= set() if path == "/healthz" else {"503"}
        assert expected <= set(operation["responses"]), where
        for code, response in operation["responses"].items():
            if code[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (where, code)
    assert len(ids) == len(set(ids))
