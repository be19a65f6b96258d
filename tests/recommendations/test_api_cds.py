"""CDS Hooks discovery and the patient-view service through HTTP (SQLite and PostgreSQL),
checked with the card rules of test_cds."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from fhir.resources.R4B.careplan import CarePlan
from sqlalchemy import select

from service.audit.models import AuditEvent
from service.logs import JsonFormatter
from tests.recommendations.test_api_questionnaire import ASSESSMENT, answer
from tests.recommendations.test_cds import assert_valid_card_response, assert_valid_discovery

SERVICE = "/cds-services/civic-2-connectedness"


@pytest.fixture
def ehr(make_key) -> dict[str, str]:
    return make_key("integrator", "test-ehr")


@pytest.fixture
def form(client, ehr) -> dict:
    return client.get("/v1/recommendations/questionnaires/civic/2", headers=ehr).json()


def hook_request(prefetch, **kw) -> dict:
    request = {
        "hook": "patient-view",
        "hookInstance": str(uuid.UUID(int=7)),
        "context": {"userId": "Practitioner/1", "patientId": "pat-42"},
        **kw,
    }
    if prefetch is not ...:
        request["prefetch"] = prefetch
    return request


def test_discovery_lists_a_patient_view_service_per_published_version(client, ehr, base_url):
    response = client.get("/cds-services", headers=ehr)
    assert response.status_code == 200
    body = response.json()
    assert_valid_discovery(body)
    assert [s["id"] for s in body["services"]] == ["civic-1-connectedness", "civic-2-connectedness"]
    prefetch = body["services"][1]["prefetch"]["assessment"]
    assert f"questionnaire={base_url}/v1/recommendations/questionnaires/civic/2" in prefetch
    assert client.get("/cds-services").status_code == 401


@pytest.fixture
def base_url(app) -> str:
    return app.state.settings.public_base_url


def test_patient_view_answers_with_one_valid_card_for_the_patient(client, ehr, form):
    qr = answer(form, ASSESSMENT)
    response = client.post(SERVICE, json=hook_request({"assessment": qr}), headers=ehr)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid_card_response(body)
    [card] = body["cards"]
    assert card["indicator"] == "warning" and "Stigma" in card["summary"]
    assert card["source"] == {"label": "CIVIC service"}
    assert "not a diagnosis" in card["detail"]
    [action] = card["suggestions"][0]["actions"]
    careplan = action["resource"]
    CarePlan.model_validate(careplan)
    assert careplan["subject"] == {"reference": "Patient/pat-42"}
    plan = client.post("/v1/recommendations", json=ASSESSMENT, headers=ehr).json()
    assert [a["detail"]["code"]["coding"][0]["code"] for a in careplan["activity"]] == [
        c["key"] for c in plan["components"]
    ]
    again = client.post(SERVICE, json=hook_request({"assessment": qr}), headers=ehr)
    assert again.content == response.content  # deterministic uuids and bytes


def test_extensions_and_unknown_fields_from_the_ehr_are_ignored(client, ehr, form):
    qr = answer(form, ASSESSMENT)
    plain = client.post(SERVICE, json=hook_request({"assessment": qr}), headers=ehr)
    request = hook_request({"assessment": qr}, extension={"com.example.ehr": {"tenant": "north"}})
    request["context"]["appointmentId"] = "Appointment/9"
    extended = client.post(SERVICE, json=request, headers=ehr)
    assert extended.status_code == 200, extended.text
    assert extended.content == plain.content


def test_a_search_bundle_is_read_from_its_first_response(client, ehr, form):
    qr = answer(form, ASSESSMENT)
    other = answer(form, {"needs": {"3": "high"}})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "OperationOutcome", "issue": []}},
            {"resource": qr},
            {"resource": other},
        ],
    }
    from_bundle = client.post(SERVICE, json=hook_request({"assessment": bundle}), headers=ehr)
    direct = client.post(SERVICE, json=hook_request({"assessment": qr}), headers=ehr)
    assert from_bundle.status_code == 200 and from_bundle.content == direct.content


def test_no_assessment_on_file_gives_no_cards(client, ehr):
    empty_bundle = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    for value in (None, empty_bundle):
        response = client.post(SERVICE, json=hook_request({"assessment": value}), headers=ehr)
        assert response.status_code == 200
        assert response.json() == {"cards": []}


def test_missing_or_failed_prefetch_is_412(client, ehr):
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    for prefetch in (
        ...,
        None,
        {},
        {"patient": {"resourceType": "Patient"}},
        {"assessment": outcome},
    ):
        response = client.post(SERVICE, json=hook_request(prefetch), headers=ehr)
        assert response.status_code == 412, prefetch
        assert response.headers["content-type"] == "application/problem+json"
        assert "prefetch" in response.json()["detail"]


def test_bad_hook_calls_are_refused(client, ehr, form):
    qr = answer(form, ASSESSMENT)
    unknown = client.post(
        "/cds-services/civic-9-connectedness", json=hook_request({"assessment": qr}), headers=ehr
    )
    assert unknown.status_code == 404
    cases = [
        (hook_request({"assessment": qr}, hook="order-select"), ["body", "hook"]),
        (
            hook_request({"assessment": qr}, context={"patientId": "a/../b"}),
            ["body", "context", "patientId"],
        ),
        (
            hook_request({"assessment": {"resourceType": "Patient"}}),
            ["body", "prefetch", "assessment", "resourceType"],
        ),
        (
            hook_request({"assessment": {**qr, "item": qr["item"][1:]}}),
            ["body", "prefetch", "assessment", "item", "need.closeness"],
        ),
    ]
    for request, loc in cases:
        response = client.post(SERVICE, json=request, headers=ehr)
        assert response.status_code == 422, request
        assert loc in [e["loc"] for e in response.json()["errors"]], response.json()
    assert client.post(SERVICE, json=hook_request({"assessment": qr})).status_code == 401


def test_cds_calls_are_audited_and_logged_without_the_patient_or_the_plan(
    app, client, ehr, form, caplog
):
    caplog.set_level(logging.DEBUG)
    qr = answer(form, ASSESSMENT)
    assert client.post(SERVICE, json=hook_request({"assessment": qr}), headers=ehr).is_success
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "/cds-services/{service_id}" in logged
    for word in ("pat-42", "Practitioner", "Stigma", "closeness", "story_sharing"):
        assert word not in logged, word
    with app.state.sessionmaker() as session:
        [event] = session.scalars(select(AuditEvent)).all()
    assert event.principal_name == "test-ehr"
    assert event.details["channel"] == "cds"
    assert event.details["hook_instance"] == str(uuid.UUID(int=7))
    stored = json.dumps(event.details)
    for word in ("pat-42", "Practitioner", "Stigma", "high", "closeness", "story_sharing"):
        assert word not in stored
