"""The served assessment Questionnaire, its code systems, and recommendations from a
QuestionnaireResponse, through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json

import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlalchemy import select

from service.audit.models import AuditEvent
from service.frameworks import fhir as frameworks_fhir
from service.frameworks.builtin import civic_v2

FORM = "/v1/recommendations/questionnaires/civic/2"
QR_URL = "/v1/recommendations/questionnaire-response"
FHIR = {"Content-Type": "application/fhir+json"}
V2 = civic_v2()


@pytest.fixture
def clinician(make_key) -> dict[str, str]:
    return make_key("clinician", "test-clinician")


@pytest.fixture
def base_url(app) -> str:
    return app.state.settings.public_base_url


@pytest.fixture
def form(client, clinician) -> dict:
    response = client.get(FORM, headers=clinician)
    assert response.status_code == 200
    return response.json()


def answer(form: dict, assessment: dict) -> dict:
    """Fill in the served form as a person would: items are found by their prefix (the
    theme code) and answers are copied from the item's own options."""
    needs, barriers = assessment.get("needs", {}), set(assessment.get("barriers", []))
    prefs, ctx = assessment.get("preferences", {}), assessment.get("context", {})
    declined = set(prefs.get("declined_domains", []))
    key_to_code = {i["code"][0]["code"]: i["prefix"] for g in form["item"] for i in g["item"]
                   if "prefix" in i}  # fmt: skip
    groups = []
    for group in form["item"]:
        items = []
        for item in group["item"]:
            link_id, answers = item["linkId"], []
            if link_id.startswith("need."):
                level = needs.get(item["prefix"], "none")
                answers = [o for o in item["answerOption"] if o["valueCoding"]["code"] == level]
            elif link_id.startswith("barrier."):
                answers = [{"valueBoolean": item["prefix"] in barriers}]
            elif link_id == "preferences.declined-domains":
                answers = [
                    o
                    for o in item["answerOption"]
                    if key_to_code[o["valueCoding"]["code"]] in declined
                ]
            elif link_id == "preferences.format" and "format" in prefs:
                answers = [
                    o for o in item["answerOption"] if o["valueCoding"]["code"] == prefs["format"]
                ]
            elif link_id == "preferences.digital-contact-ok" and "digital_contact_ok" in prefs:
                answers = [{"valueBoolean": prefs["digital_contact_ok"]}]
            elif link_id == "context.weeks-available" and "weeks_available" in ctx:
                answers = [{"valueInteger": ctx["weeks_available"]}]
            if answers:
                items.append({"linkId": link_id, "answer": answers})
        if items:
            groups.append({"linkId": group["linkId"], "item": items})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": form["url"],
        "status": "completed",
        "subject": {"reference": "Patient/example"},
        "item": groups,
    }


ASSESSMENT = {
    "framework": "civic",
    "version": "2",
    "needs": {"1": "high", "2": "moderate", "3": "low", "4.2": "high", "7.2": "low"},
    "barriers": ["6", "6.1"],
    "preferences": {
        "declined_domains": ["3"],
        "format": "no_group",
        "digital_contact_ok": True,
    },
    "context": {"weeks_available": 12},
}


def test_questionnaire_is_served_as_fhir_at_its_canonical_url(client, clinician, base_url):
    response = client.get(FORM, headers=clinician)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    form = response.json()
    Questionnaire.model_validate(form)
    assert form["url"] == base_url + FORM and form["status"] == "active"
    assert "clinician" in form["description"]
    etag = response.headers["etag"]
    again = client.get(FORM, headers={**clinician, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert client.get(FORM, headers=clinician).content == response.content
    v1 = client.get("/v1/recommendations/questionnaires/civic/1", headers=clinician)
    assert v1.status_code == 200 and v1.headers["etag"] != etag
    missing = client.get("/v1/recommendations/questionnaires/civic/9", headers=clinician)
    assert missing.status_code == 404
    assert client.get(FORM).status_code == 401


def codings(resource) -> list[dict]:
    """Every Coding (a dict with a system and a code) anywhere in a resource."""
    out = []
    if isinstance(resource, dict):
        if "system" in resource and "code" in resource:
            out.append(resource)
        for value in resource.values():
            out += codings(value)
    elif isinstance(resource, list):
        for value in resource:
            out += codings(value)
    return out


def test_every_code_system_named_under_our_base_is_served_and_has_the_codes(
    client, clinician, base_url, form
):
    careplan = client.post(
        "/v1/recommendations?format=careplan",
        json={**ASSESSMENT, "preferences": {}},
        headers=clinician,
    ).json()
    used: dict[tuple[str, str | None], set[str]] = {}
    for coding in codings(form) + codings(careplan):
        used.setdefault((coding["system"], coding.get("version")), set()).add(coding["code"])
    theme_system = frameworks_fhir.code_system_url(V2, base_url=base_url)
    served = 0
    for (system, version), codes in sorted(used.items(), key=str):
        assert system.startswith(base_url), system
        if system == theme_system:
            # The framework's own CodeSystem (frameworks API): codes are theme keys.
            concepts = json.dumps(frameworks_fhir.code_system(V2, base_url=base_url))
            assert all(f'"code": "{c}"' in concepts for c in codes), codes
            continue
        path = system.removeprefix(base_url) + (f"?version={version}" if version else "")
        response = client.get(path, headers=clinician)
        assert response.status_code == 200, system
        assert response.headers["content-type"] == "application/fhir+json"
        code_system = response.json()
        CodeSystem.model_validate(code_system)
        assert code_system["url"] == system
        assert codes <= {c["code"] for c in code_system["concept"]}, system
        served += 1
    assert served == 3  # need-level, delivery-format, civic-components


def test_code_systems_have_etags_and_unknown_ones_404(client, clinician):
    url = "/v1/recommendations/code-systems/civic-components"
    latest = client.get(url, headers=clinician)
    assert latest.json()["version"] == "2"
    assert client.get(url + "?version=1", headers=clinician).json()["version"] == "1"
    cached = client.get(url, headers={**clinician, "If-None-Match": latest.headers["etag"]})
    assert cached.status_code == 304
    for name in ("nope", "-components", "nope-components"):
        response = client.get(f"/v1/recommendations/code-systems/{name}", headers=clinician)
        assert response.status_code == 404, name
    assert client.get(url + "?version=9", headers=clinician).status_code == 404


def test_a_response_to_the_served_form_gives_the_same_plan_as_the_json_assessment(
    client, clinician, form
):
    qr = answer(form, ASSESSMENT)
    QuestionnaireResponse.model_validate(qr)
    from_json = client.post("/v1/recommendations", json=ASSESSMENT, headers=clinician)
    from_qr = client.post(QR_URL, content=json.dumps(qr), headers={**clinician, **FHIR})
    assert from_json.status_code == from_qr.status_code == 200
    assert from_qr.content == from_json.content
    assert from_qr.json()["declined"][0]["code"] == "3"
    plain = client.post(QR_URL, json=qr, headers=clinician)  # application/json works too
    assert plain.content == from_json.content
    careplans = [
        client.post(url + "?format=careplan", **kw, headers=clinician).json()
        for url, kw in (
            ("/v1/recommendations", {"json": ASSESSMENT}),
            (QR_URL, {"json": qr}),
        )
    ]
    assert careplans[0] == careplans[1]


def test_framework_can_be_named_in_the_query(client, clinician, form):
    qr = answer(form, ASSESSMENT)
    response = client.post(QR_URL + "?framework=civic&version=2", json=qr, headers=clinician)
    assert response.status_code == 200
    other = client.post(QR_URL + "?framework=civic&version=1", json=qr, headers=clinician)
    assert errors_of(other) == [(["body", "questionnaire"], "foreign_questionnaire")]
    half = client.post(QR_URL + "?framework=civic", json=qr, headers=clinician)
    assert errors_of(half) == [(["query", "version"], "missing")]


def errors_of(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [(e["loc"], e["type"]) for e in response.json()["errors"]]


def test_bad_responses_are_422_with_the_link_id_in_loc(client, clinician, form):
    qr = answer(form, ASSESSMENT)

    missing = copy.deepcopy(qr)
    del missing["item"][0]["item"][0]  # need.closeness
    assert errors_of(client.post(QR_URL, json=missing, headers=clinician)) == [
        (["body", "item", "need.closeness"], "missing_answer")
    ]

    outside = copy.deepcopy(qr)
    outside["item"][0]["item"][1]["answer"] = [
        {"valueCoding": {"system": form["item"][0]["item"][1]["answerOption"][0]["valueCoding"]
                         ["system"], "code": "severe"}}
    ]  # fmt: skip
    outside["item"].append({"linkId": "need.made_up", "answer": [{"valueBoolean": True}]})
    assert sorted(errors_of(client.post(QR_URL, json=outside, headers=clinician))) == [
        (["body", "item", "need.closeness.comfort"], "invalid_answer"),
        (["body", "item", "need.made_up"], "unknown_item"),
    ]

    for canonical in (
        "https://elsewhere.org/fhir/Questionnaire/phq-9",
        "https://elsewhere.org" + FORM,
        form["url"].replace("/2", "/9"),
        None,
    ):
        foreign = {**qr, "questionnaire": canonical}
        response = client.post(QR_URL, json=foreign, headers=clinician)
        [(loc, kind)] = errors_of(response)
        assert loc == ["body", "questionnaire"], canonical
        assert kind in {"foreign_questionnaire", "unknown_framework"}

    patient = client.post(QR_URL, json={"resourceType": "Patient"}, headers=clinician)
    assert errors_of(patient) == [(["body", "resourceType"], "wrong_resource")]
    stopped = client.post(QR_URL, json={**qr, "status": "stopped"}, headers=clinician)
    assert errors_of(stopped) == [(["body", "status"], "invalid_status")]
    listed = client.post(QR_URL, json=[qr], headers=clinician)
    assert listed.status_code == 422
    text = client.post(
        QR_URL, content=json.dumps(qr), headers={**clinician, "Content-Type": "text/plain"}
    )
    assert text.status_code == 415


def test_a_canonical_naming_an_impossible_version_is_422_not_500(client, clinician, form):
    # The version read from the canonical went to the database: PostgreSQL refuses a
    # NUL, and no driver can encode a lone surrogate.
    qr = answer(form, ASSESSMENT)
    for version in ("2\x00", "\ud800"):
        canonical = form["url"].removesuffix("/2") + "/" + version
        response = client.post(
            QR_URL,
            content=json.dumps({**qr, "questionnaire": canonical}),
            headers={**clinician, "Content-Type": "application/json"},
        )
        assert errors_of(response) == [(["body", "questionnaire"], "unknown_framework")]


def test_questionnaire_recommendations_are_audited_without_content(app, client, clinician, form):
    response = client.post(QR_URL, json=answer(form, ASSESSMENT), headers=clinician)
    assert response.status_code == 200
    with app.state.sessionmaker() as session:
        [event] = session.scalars(select(AuditEvent)).all()
    assert event.details["channel"] == "questionnaire"
    assert set(event.details) == {
        "framework",
        "version",
        "channel",
        "output",
        "domains_in_need",
        "components",
        "gaps",
    }
