"""Schemathesis fuzzes every operation of the API against the app in-process (SQLite): no
operation may answer 500, and each response must be what the OpenAPI document says (a
documented status, its content type, its schema), every error problem+json.

Ids in paths, queries and bodies are often those of real objects (a study with its
participant, documents, coders, pass, segments and saved report; a draft framework
version with a component and a link), so cases get past 404 into the code behind it.
The database file is restored after any request that may have changed it, so every
case starts from the same state. Derandomized with a fixed seed: the same ~700 cases
every run, in about half a minute. (The coverage phase, some 4,000 boundary cases
mostly stopped at 404 or 422, stays out of CI: run it with `phases` set to include
"coverage" when changing request validation.)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import ignored_auth, negative_data_rejection, positive_data_acceptance
from schemathesis.config import HealthCheck

from service import migrate, seed
from service.auth import service as auth_service
from service.auth.models import Role
from service.config import Settings
from service.main import create_app

# The schema is read from the app at import (serving /openapi.json needs no database);
# the `world` fixture then builds its database. Checks that send requests of their own
# reach the same app.
DATABASE = Path(tempfile.mkdtemp(prefix="civic-fuzz-")) / "civic.db"
SETTINGS = Settings(database_url=f"sqlite:///{DATABASE}", log_level="ERROR")
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.seed = 20_240_601
schema.config.update(suppress_health_check=[HealthCheck.all])  # slow generation is fine
schema.config.phases.update(phases=["examples", "fuzzing"])
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=8,
    deterministic=True,
    database="none",
    with_security_parameters=False,  # every case is sent as an admin
)

# Positive data may still be refused (a span past the end of the text, a theme of
# another version...) and negative data accepted where the world stands in for an id:
# those two checks judge the fuzzer's guesses, not the API. Every case is sent with an
# admin key, so the check that drops credentials cannot work (tests/auth covers 401).
EXCLUDED = [negative_data_rejection, positive_data_acceptance, ignored_auth]

TEXT = (
    "Interviewer: What helps you feel connected to other people?\n"
    "P01: The walking group on Thursdays. We have a coffee after, and nobody minds.\n"
    "Interviewer: And when things are harder?\n"
    "P01: The dog gets me out again, and the café owner always says hello.\n"
)
REAL = "world-"  # a generated value replaced by the id of a real object at call time
DRAFT = ("civic", "9-fuzz")
PATH_IDS = {
    "study_id": ["study"],
    "participant_id": ["participant"],
    "document_id": ["document"],
    "segment_id": ["segment"],
    "pass_id": ["pass"],
    "report_id": ["report"],
    "principal_id": ["member"],
    "key_id": ["key"],
    "theme_id": ["draft_theme", "theme"],
    "component_id": ["draft_component", "component"],
    "link_id": ["draft_link"],
    "service_id": ["cds_service"],
}
QUERY_IDS = {
    "evidence_study_id": ["study"],
    "participant_id": ["participant"],
    "document_id": ["document"],
    "theme_id": ["theme"],
    "coder_id": ["coder"],
    "pass_id": ["pass"],
    "coder": ["coder", "coder2"],
    "document": ["document"],
    "pass": ["pass"],
}
BODY_IDS = {
    "document_id": ["document"],
    "theme_id": ["theme", "draft_theme"],
    "parent_id": ["draft_theme"],
    "coder_id": ["coder", "coder2"],
    "pass_id": ["pass"],
    "participant_id": ["participant"],
    "principal_id": ["member"],
    "component_id": ["draft_component"],
    "source_segment_ids": ["segment"],
    "coders": ["coder", "coder2"],
    "documents": ["document"],
}
LITERALS = {  # values that name real things, not ids
    "name": ["need-level", "delivery-format", "civic-components"],
    "from": ["civic@1", "civic@2"],
    "to": ["civic@2", "civic@9-fuzz"],
    "theme": ["1", "1.1"],
}


def _real_or(value, names: list[str], *, literal: bool = False):
    real = list(names) if literal else [REAL + name for name in names]
    if isinstance(value, list):
        return st.sampled_from([value, real])
    return st.sampled_from([value, *real, *real])  # two in three cases use a real one


def _mapped(values, ids: dict[str, list[str]]):
    if not isinstance(values, dict):
        return st.just(values)
    return st.fixed_dictionaries(
        {
            name: _real_or(value, ids[name])
            if name in ids
            else _real_or(value, LITERALS[name], literal=True)
            if name in LITERALS
            else st.just(value)
            for name, value in values.items()
        }
    )


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    values = _mapped(path_parameters, PATH_IDS)
    if {"slug", "version"} <= set(path_parameters or {}):
        versions = st.sampled_from([None, DRAFT, ("civic", "2"), ("civic", "1")])
        return st.builds(_with_version, values, versions)
    return values


def _with_version(values: dict, version: tuple[str, str] | None) -> dict:
    return values if version is None else {**values, "slug": version[0], "version": version[1]}


@schema.hook
def flatmap_query(context, query):
    return _mapped(query, QUERY_IDS)


# Values JSON carries but a database may not take: a NUL (PostgreSQL text), integers
# past 32 and 64 bits. (Half a surrogate pair, \ud800, cannot be sent this way:
# schemathesis itself fails to encode it. The packages' tests send it.)
AWKWARD = {str: ["nul\x00"], int: [2**31, 2**63, 10**30]}


@schema.hook
def flatmap_body(context, body):
    return _mapped(body, BODY_IDS).flatmap(_maybe_awkward)


def _maybe_awkward(body):
    """The body as generated, or with one of its strings or integers made awkward."""
    leaves = list(_leaves(body)) if isinstance(body, dict) else []
    if not leaves:
        return st.just(body)
    swaps = [(path, new) for path, value in leaves for new in AWKWARD[type(value)]]
    return st.sampled_from([None, None, *swaps]).map(lambda swap: _swapped(body, swap))


def _leaves(value, path=()):
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _leaves(item, (*path, key))
    elif type(value) in AWKWARD and not (isinstance(value, str) and value.startswith(REAL)):
        yield path, value


def _swapped(body, swap):
    if swap is None:
        return body
    path, new = swap
    body = json.loads(json.dumps(body))  # a copy
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return body


def _resolve(value, ids: dict[str, str]):
    if isinstance(value, str) and value.startswith(REAL):
        return ids[value.removeprefix(REAL)]
    if isinstance(value, list):
        return [_resolve(item, ids) for item in value]
    if isinstance(value, dict):
        return {name: _resolve(item, ids) for name, item in value.items()}
    return value


class World:
    """The app on an SQLite file holding real objects, restored by copying the file."""

    def __init__(self, app: FastAPI, path: Path) -> None:
        self.app, self.path = app, path
        self.snapshot = path.with_suffix(".snapshot")
        self.ids, self.headers = _build(app)
        app.state.engine.dispose()  # checkpoints the WAL into the file
        shutil.copyfile(path, self.snapshot)
        self.dirty = False

    def restore(self) -> None:
        if self.dirty:
            self.app.state.engine.dispose()
            for leftover in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                leftover.unlink(missing_ok=True)
            shutil.copyfile(self.snapshot, self.path)
            self.dirty = False


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    migrate.upgrade(SETTINGS)
    with APP.state.sessionmaker() as session:
        seed.load_builtin(session=session)
        session.commit()
    yield World(APP, DATABASE)
    APP.state.engine.dispose()
    shutil.rmtree(DATABASE.parent, ignore_errors=True)


def _build(app: FastAPI) -> tuple[dict[str, str], dict[str, str]]:
    with app.state.sessionmaker() as session:
        _, key = auth_service.create_key(session=session, name="fuzz-admin", role=Role.admin)
        member, _ = auth_service.create_key(
            session=session, name="fuzz-coder", role=Role.researcher
        )
        other, _ = auth_service.create_key(session=session, name="fuzz-other", role=Role.researcher)
        session.commit()
        ids = {"member": str(member.principal_id), "key": str(other.id)}
    headers = {"Authorization": f"Bearer {key}"}
    client = TestClient(app)

    def post(url: str, body: dict) -> dict:
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    def get(url: str) -> dict:
        return client.get(url, headers=headers).json()

    draft = f"/v1/frameworks/{DRAFT[0]}/versions/{DRAFT[1]}"
    post("/v1/frameworks/civic/versions/2/derive", {"version": DRAFT[1]})
    ids["draft_theme"] = get(draft)["themes"][0]["id"]
    ids["draft_component"] = get(f"{draft}/components")["items"][0]["id"]
    component = post(f"{draft}/components", {"key": "fuzz", "name": "Fuzz"})
    link = {"theme_id": ids["draft_theme"], "component_id": component["id"]}
    ids["draft_link"] = post(f"{draft}/links", link)["id"]
    themes = get("/v1/frameworks/civic/versions/2")["themes"]
    ids["theme"], theme2 = themes[0]["id"], themes[1]["id"]
    ids["component"] = get("/v1/frameworks/civic/versions/2/components")["items"][0]["id"]
    ids["cds_service"] = get("/cds-services")["services"][-1]["id"]

    framework = {"slug": "civic", "version": "2"}
    study = post("/v1/studies", {"title": "Fuzz", "framework": framework})
    url = f"/v1/studies/{study['id']}"
    ids["study"] = study["id"]
    post(f"{url}/members", {"principal_id": ids["member"], "role": "coder"})
    participant = post(f"{url}/participants", {"label": "P01", "group": "staff"})
    ids["participant"] = participant["id"]
    document = {"title": "Interview 1", "text": TEXT, "participant_id": participant["id"]}
    ids["document"] = post(f"{url}/documents", document)["id"]
    ids["coder"] = post(f"{url}/coders", {"name": "Coder A"})["id"]
    ids["coder2"] = post(f"{url}/coders", {"principal_id": ids["member"]})["id"]
    coding_pass = {"name": "First", "kind": "inductive", "coder_id": ids["coder"]}
    ids["pass"] = post(f"{url}/passes", coding_pass)["id"]
    segments = [
        post(
            f"{url}/segments",
            {"document_id": ids["document"], "theme_id": theme, "coder_id": ids[coder],
             "start": start, "end": end},
        )["id"]
        for coder, theme, start, end in [
            ("coder", ids["theme"], 0, 40),
            ("coder2", ids["theme"], 10, 50),
            ("coder", theme2, 60, 120),
            ("coder2", ids["theme"], 130, 170),
        ]
    ]  # fmt: skip
    ids["segment"] = segments[0]
    report = {"title": "Kappa", "parameters": {"coders": [ids["coder"], ids["coder2"]]}}
    ids["report"] = post(f"{url}/agreement-reports", report)["id"]
    return ids, headers


def problem_json(ctx, response, case) -> None:
    """Every error, documented or not, is an RFC 9457 problem."""
    if response.status_code >= 400:
        media_type = response.headers.get("content-type", [""])
        media_type = media_type[0] if isinstance(media_type, list) else media_type
        assert media_type.startswith("application/problem+json"), media_type
        problem = json.loads(response.content)
        assert {"type", "title", "status"} <= problem.keys(), problem
        assert problem["status"] == response.status_code


@schema.parametrize()
def test_no_operation_answers_500_or_off_its_documentation(case, world):
    world.restore()
    case.path_parameters = _resolve(case.path_parameters, world.ids)
    case.query = _resolve(case.query, world.ids)
    if isinstance(case.body, dict | list):
        case.body = _resolve(case.body, world.ids)
    response = case.call(headers=world.headers)
    if case.method.upper() != "GET":
        world.dirty = True
    case.validate_response(response, additional_checks=[problem_json], excluded_checks=EXCLUDED)
