"""Participants: pseudonymity checks, CRUD by role, CSV import, the per-group summary
and respondent validation."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from service.coding.models import Document, Participant, Segment
from tests.coding.conftest import READERS, ROLES, WRITERS, expected_by_role

CSV = {"Content-Type": "text/csv"}


def _add(client, study, headers=None, **body):
    body = {"label": "P02", "group": "staff"} | body
    return client.post(
        f"{study.url}/participants", json=body, headers=headers or study.coder.headers
    )


# --- creating ------------------------------------------------------------------------


def test_participant_is_stored_with_typed_and_free_attributes(client, study):
    attributes = {
        "age": 52,
        "gender": "male",
        "ethnicity": "White British",
        "living_arrangement": "with partner",
        "partner_status": "married",
        "diagnoses": ["depression", "anxiety"],
        "service_use": "community mental health team",
        "profession": "occupational therapist",
        "years_experience": 14,
        "employment": "full-time",
        "groups_attended": 3,
        "has_pet": True,
    }
    response = _add(client, study, attributes=attributes)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/studies/{study.id}/participants/{body['id']}"
    assert body["label"] == "P02" and body["group"] == "staff"
    assert {k: v for k, v in body["attributes"].items() if v is not None} == attributes
    got = client.get(f"{study.url}/participants/{body['id']}", headers=study.viewer.headers)
    assert got.json() == body


def test_who_may_add_participants(client, study):
    for n, (role, status) in enumerate(expected_by_role(201, WRITERS).items()):
        response = _add(client, study, study.headers_for(role), label=f"P1{n}")
        assert response.status_code == status, role


def test_duplicate_label_is_409(client, study, participant):
    response = _add(client, study, label=participant.label)
    assert response.status_code == 409 and participant.label in response.json()["detail"]


def test_label_that_looks_like_contact_details_is_422(client, study):
    for label in ("jo.bloggs@example.org", "+44 7700 900123", "07700900123"):
        response = _add(client, study, label=label)
        assert response.status_code == 422, label
        assert "label looks like" in response.json()["errors"][0]["msg"]


def test_group_must_be_one_of_the_study_groups(client, study):
    response = _add(client, study, group="carers")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "loc": ["body", "group"],
            "msg": "group 'carers' is not one of the study's (lived_experience, staff)",
            "type": "value_error",
        }
    ]


@pytest.mark.parametrize(
    "attribute",
    [
        "name",
        "First Name",
        "last-name",
        "full_name",
        "Email",
        "e-mail",
        "Telephone",
        "phone number",
        "mobile",
        "home address",
        "Postcode",
        "ZIP",
        "Date of Birth",
        "DOB",
        "birth_date",
        "NHS number",
        "national_insurance_number",
        "SSN",
        "MRN",
    ],
)
def test_direct_identifier_attributes_are_refused_by_name(client, study, attribute):
    response = _add(client, study, attributes={attribute: "x"})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"] == ["body", "attributes"]
    assert repr(attribute) in error["msg"] and "direct identifier" in error["msg"]


def test_ordinary_attribute_names_are_not_mistaken_for_identifiers(client, study):
    attributes = {"smartphone_use": "daily", "telehealth": True, "address_changes_last_year": 0}
    response = _add(client, study, attributes=attributes)
    assert response.status_code == 422  # "address" inside a longer name is still refused
    del attributes["address_changes_last_year"]
    assert _add(client, study, attributes=attributes).status_code == 201


def test_attribute_values_and_types_are_checked(client, study):
    for attributes in (
        {"age": "about fifty"},
        {"age": -1},
        {"years_experience": 1.5},
        {"diagnoses": "depression"},
        {"notes": {"nested": "object"}},
        {"notes": ["a", "list"]},
        {"contact": "someone@example.org"},
        {"": "empty name"},
    ):
        response = _add(client, study, attributes=attributes)
        assert response.status_code == 422, attributes


def test_free_attributes_that_cannot_be_stored_are_422_not_500(client, study, participant):
    # A lone surrogate broke the response (and its ETag); NaN is not JSON for PostgreSQL.
    for attributes in (
        {"employment": "part\ud800time"},
        {"employ\udfffment": "part-time"},
        {"employment": "part\u0000time"},
        {"score": float("nan")},
        {"score": float("inf")},
    ):
        for method, url in (
            ("POST", f"{study.url}/participants"),
            ("PATCH", participant.url),
        ):
            body = {"attributes": attributes} | (
                {"label": "P02", "group": "staff"} if method == "POST" else {}
            )
            response = client.request(
                method,
                url,
                content=json.dumps(body),  # NaN as the bare literal, the surrogate escaped
                headers={**study.owner.headers, "Content-Type": "application/json"},
            )
            assert response.status_code == 422, (method, attributes, response.text)
            assert response.json()["errors"][0]["loc"][:2] == ["body", "attributes"]


def test_unknown_fields_and_bad_ids_are_422(client, study):
    assert _add(client, study, colour="blue").status_code == 422
    response = client.get(f"{study.url}/participants/not-a-uuid", headers=study.owner.headers)
    assert response.status_code == 422


# --- reading -------------------------------------------------------------------------


def test_who_may_read_participants(client, study, participant):
    for role, status in expected_by_role(200, READERS).items():
        headers = study.headers_for(role)
        assert client.get(participant.url, headers=headers).status_code == status, role
        listed = client.get(f"{study.url}/participants", headers=headers)
        assert listed.status_code == status, role


def test_list_filters_by_group_and_pages_in_label_order(client, study):
    for n in range(5):
        _add(client, study, label=f"P{n:02}", group=["staff", "lived_experience"][n % 2])
    staff = client.get(
        f"{study.url}/participants", params={"group": "staff"}, headers=study.viewer.headers
    ).json()
    assert [p["label"] for p in staff["items"]] == ["P00", "P02", "P04"]
    labels, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            f"{study.url}/participants", params=params, headers=study.viewer.headers
        ).json()
        labels += [p["label"] for p in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert labels == [f"P{n:02}" for n in range(5)]


def test_unknown_participant_and_one_of_another_study_are_404(client, make_study, participant):
    other = make_study()
    for url in (
        f"{other.url}/participants/{participant.id}",
        f"{other.url}/participants/{uuid.uuid4()}",
    ):
        assert client.get(url, headers=other.owner.headers).status_code == 404
        assert client.delete(url, headers=other.owner.headers).status_code == 404


def test_participant_etag_revalidates(client, study, participant):
    etag = client.get(participant.url, headers=study.viewer.headers).headers["etag"]
    cached = client.get(participant.url, headers={**study.viewer.headers, "If-None-Match": etag})
    assert cached.status_code == 304


# --- changing and deleting -----------------------------------------------------------


def test_who_may_change_participants(client, study, participant):
    for role, status in expected_by_role(200, WRITERS).items():
        response = client.patch(
            participant.url, json={"attributes": {"gender": role}}, headers=study.headers_for(role)
        )
        assert response.status_code == status, role


def test_patch_merges_attributes_and_null_removes_one(client, study, participant):
    response = client.patch(
        participant.url,
        json={"attributes": {"living_arrangement": None, "employment": "retired", "age": 45}},
        headers=study.coder.headers,
    )
    assert response.status_code == 200
    attributes = {k: v for k, v in response.json()["attributes"].items() if v is not None}
    assert attributes == {"age": 45, "gender": "female", "employment": "retired"}


def test_patch_checks_label_group_and_identifiers(client, study, participant):
    _add(client, study, label="P02")
    for body, status in (
        ({"label": "P02"}, 409),
        ({"label": "me@example.org"}, 422),
        ({"group": "carers"}, 422),
        ({"group": None}, 422),
        ({"attributes": {"surname": "x"}}, 422),
        ({"study_id": str(uuid.uuid4())}, 422),
    ):
        response = client.patch(participant.url, json=body, headers=study.coder.headers)
        assert response.status_code == status, body
    same = client.patch(participant.url, json={"label": "P01"}, headers=study.coder.headers)
    assert same.status_code == 200


def test_stale_if_match_on_participant_is_412(client, study, participant):
    etag = client.get(participant.url, headers=study.coder.headers).headers["etag"]
    client.patch(participant.url, json={"group": "staff"}, headers=study.coder.headers)
    stale = client.patch(
        participant.url, json={"label": "P09"}, headers={**study.coder.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    stale_delete = client.delete(participant.url, headers={**study.coder.headers, "If-Match": etag})
    assert stale_delete.status_code == 412


def test_who_may_delete_participants(client, study):
    for n, role in enumerate(ROLES):
        created = _add(client, study, label=f"P3{n}").json()
        url = f"{study.url}/participants/{created['id']}"
        status = expected_by_role(204, WRITERS)[role]
        assert client.delete(url, headers=study.headers_for(role)).status_code == status, role
        if status == 204:
            assert client.get(url, headers=study.owner.headers).status_code == 404


def test_participant_with_documents_needs_cascade(
    app, client, study, participant, document, coders, make_segment
):
    make_segment(study, document, coders["coder"])
    client.put(
        f"{participant.url}/validation", json={"reviewed": True}, headers=study.owner.headers
    )
    refused = client.delete(participant.url, headers=study.coder.headers)
    assert refused.status_code == 409 and "cascade=true" in refused.json()["detail"]
    assert client.get(document.url, headers=study.coder.headers).status_code == 200

    deleted = client.delete(participant.url, params={"cascade": True}, headers=study.coder.headers)
    assert deleted.status_code == 204
    assert client.get(document.url, headers=study.coder.headers).status_code == 404
    with app.state.sessionmaker() as session:
        for table in (Participant, Document, Segment):
            count = select(func.count()).where(table.study_id == uuid.UUID(study.id))
            assert session.scalar(count) == 0, table


def test_participant_without_documents_is_deleted_without_cascade(client, study, participant):
    assert client.delete(participant.url, headers=study.owner.headers).status_code == 204


# --- CSV import ----------------------------------------------------------------------


GOOD_CSV = (  # as a spreadsheet saves it: BOM, CRLF, quoting, an empty trailing column
    "\ufefflabel,group,age,Gender,diagnoses,employment,years_experience,\r\n"
    'P10,lived_experience,41,female,"depression; anxiety",part-time,,\r\n'
    "P11,staff,38,male,,,12,\r\n"
    '#12,lived_experience,57,non-binary,psychosis,"retired, volunteering",,\r\n'
)


def test_csv_import_stores_every_row(client, study):
    response = client.post(
        f"{study.url}/participants/import",
        content=GOOD_CSV.encode(),
        headers={**study.coder.headers, **CSV},
    )
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 3
    by_label = {
        p["label"]: {k: v for k, v in p["attributes"].items() if v is not None}
        for p in response.json()["items"]
    }
    assert by_label == {
        "P10": {
            "age": 41,
            "gender": "female",
            "diagnoses": ["depression", "anxiety"],
            "employment": "part-time",
        },
        "P11": {"age": 38, "gender": "male", "years_experience": 12},
        "#12": {
            "age": 57,
            "gender": "non-binary",
            "diagnoses": ["psychosis"],
            "employment": "retired, volunteering",
        },
    }


def test_csv_with_bad_rows_lists_each_and_stores_nothing(client, study, participant):
    text = (
        "label,group,age,gender\n"
        "P20,staff,40,female\n"  # line 2: fine
        "P01,staff,33,male\n"  # line 3: label already in the study
        "P21,carers,50,female\n"  # line 4: group not in the study
        "P22,staff,forty,male\n"  # line 5: age not a number
        "P20,lived_experience,29,female\n"  # line 6: label repeated in the file
        "someone@example.org,staff,30,male\n"  # line 7: label is an email
        "P23,staff\n"  # line 8: too few cells
        "\n"  # a blank line is skipped
        'P24,staff,61,"female"\n'  # line 10: fine
        'P25,staff,"6\n1",female\n'  # lines 11-12: one record, age not a number
        "P26,staff,44,male\n"  # line 13: fine
    )
    response = client.post(
        f"{study.url}/participants/import",
        content=text.encode(),
        headers={**study.coder.headers, **CSV},
    )
    assert response.status_code == 422
    problem = response.json()
    assert "nothing was imported" in problem["detail"]
    errors = {
        (e["loc"][1], e["loc"][2] if len(e["loc"]) > 2 else None): e["msg"]
        for e in problem["errors"]
    }
    assert sorted(errors) == [
        (3, "label"),
        (4, "group"),
        (5, "age"),
        (6, "label"),
        (7, None),
        (8, None),
        (11, "age"),
    ]
    assert "already in the study" in errors[(3, "label")]
    assert "carers" in errors[(4, "group")]
    assert "also on line 2" in errors[(6, "label")]
    assert "email" in errors[(7, None)]
    assert all(e["loc"][0] == "row" for e in problem["errors"])
    listed = client.get(f"{study.url}/participants", headers=study.coder.headers).json()
    assert [p["label"] for p in listed["items"]] == ["P01"]


def test_csv_header_problems_are_422(client, study):
    url = f"{study.url}/participants/import"
    headers = {**study.coder.headers, **CSV}
    for text, fragment in (
        ("label,group,Email\nP30,staff,x\n", "email address"),
        ("label,group,Date of birth\nP30,staff,x\n", "date of birth"),
        ("label,age\nP30,40\n", "no 'group' column"),
        ("label,group,age,age\nP30,staff,1,2\n", "appears twice"),
        ("label,group,,\nP30,staff,,oops\n", "column with no name"),
        ('label,group\nP30,"staff\n', "cannot be read from line 2"),
        ("", "empty"),
        ("label,group\n", "no participants"),
    ):
        response = client.post(url, content=text.encode(), headers=headers)
        assert response.status_code == 422, text
        assert fragment in str(response.json()), text
    latin1 = client.post(url, content="label,group\nPé,staff\n".encode("latin-1"), headers=headers)
    assert latin1.status_code == 422 and "UTF-8" in latin1.json()["detail"]


def test_csv_import_needs_text_csv_and_a_writer(client, study):
    url = f"{study.url}/participants/import"
    as_json = client.post(url, json={"label": "P40"}, headers=study.coder.headers)
    assert as_json.status_code == 415
    for n, (role, status) in enumerate(expected_by_role(201, WRITERS).items()):
        body = f"label,group\nP4{n},staff\n".encode()
        response = client.post(url, content=body, headers={**study.headers_for(role), **CSV})
        assert response.status_code == status, role


# --- summary -------------------------------------------------------------------------


def test_summary_gives_n_age_and_gender_per_group(client, study):
    for label, group, attributes in (
        ("P01", "lived_experience", {"age": 40, "gender": "female"}),
        ("P02", "lived_experience", {"age": 50, "gender": "male"}),
        ("P03", "lived_experience", {"age": 60, "gender": "female"}),
        ("P04", "lived_experience", {"gender": "female"}),
        ("S01", "staff", {"age": 35}),
    ):
        _add(client, study, label=label, group=group, attributes=attributes)
    for role, status in expected_by_role(200, READERS).items():
        response = client.get(f"{study.url}/participants/summary", headers=study.headers_for(role))
        assert response.status_code == status, role
    summary = client.get(f"{study.url}/participants/summary", headers=study.viewer.headers).json()
    assert summary["total"] == 5
    lived, staff = summary["groups"]
    assert lived == {
        "group": "lived_experience",
        "n": 4,
        "age": {"n": 3, "mean": 50.0, "sd": 10.0, "min": 40.0, "max": 60.0},
        "gender": {"female": 3, "male": 1},
    }
    assert staff["n"] == 1 and staff["age"] | {"n": 1} == {
        "n": 1,
        "mean": 35.0,
        "sd": None,
        "min": 35.0,
        "max": 35.0,
    }
    assert staff["gender"] == {"not recorded": 1}


def test_summary_of_an_empty_study_lists_every_group(client, study):
    summary = client.get(f"{study.url}/participants/summary", headers=study.owner.headers).json()
    assert summary["total"] == 0
    assert [(g["group"], g["n"], g["age"]["mean"]) for g in summary["groups"]] == [
        ("lived_experience", 0, None),
        ("staff", 0, None),
    ]


# --- respondent validation -----------------------------------------------------------


def test_validation_is_recorded_then_replaced(client, study, participant):
    url = f"{participant.url}/validation"
    assert client.get(url, headers=study.viewer.headers).status_code == 404
    body = {
        "reviewed": True,
        "reviewed_on": "2019-06-03",
        "method": "interview",
        "outcome": "agreed",
        "note": "Recognised their experience in the themes.",
    }
    first = client.put(url, json=body, headers=study.coder.headers)
    assert first.status_code == 201 and first.json() | {"updated_at": None} == body | {
        "participant_id": participant.id,
        "updated_at": None,
    }
    etag = client.get(url, headers=study.viewer.headers).headers["etag"]
    assert (
        client.get(url, headers={**study.viewer.headers, "If-None-Match": etag}).status_code == 304
    )
    second = client.put(
        url,
        json=body | {"outcome": "changes_suggested"},
        headers={**study.coder.headers, "If-Match": etag},
    )
    assert second.status_code == 200 and second.json()["outcome"] == "changes_suggested"
    stale = client.put(url, json=body, headers={**study.coder.headers, "If-Match": etag})
    assert stale.status_code == 412


def test_validation_bodies_are_checked(client, study, participant):
    url = f"{participant.url}/validation"
    for body in (
        {"reviewed": False, "outcome": "agreed"},
        {"reviewed": True, "method": "letter"},
        {"reviewed": True, "outcome": "disagreed"},
        {"reviewed": True, "unexpected": 1},
        {},
    ):
        assert client.put(url, json=body, headers=study.coder.headers).status_code == 422, body
    missing = f"{study.url}/participants/{uuid.uuid4()}/validation"
    assert (
        client.put(missing, json={"reviewed": True}, headers=study.coder.headers).status_code == 404
    )


def test_who_may_record_and_read_validation(client, study, participant):
    url = f"{participant.url}/validation"
    for role, status in expected_by_role(200, WRITERS).items():
        response = client.put(url, json={"reviewed": True}, headers=study.headers_for(role))
        assert response.status_code in ({status} if status != 200 else {200, 201}), role
    for role, status in expected_by_role(200, READERS).items():
        assert client.get(url, headers=study.headers_for(role)).status_code == status, role
        summary = client.get(f"{study.url}/respondent-validation", headers=study.headers_for(role))
        assert summary.status_code == status, role


def test_validation_summary_counts_reviews_and_outcomes_per_group(client, study):
    reviews = {
        "P01": ("lived_experience", {"reviewed": True, "outcome": "agreed"}),
        "P02": ("lived_experience", {"reviewed": True, "outcome": "changes_suggested"}),
        "P03": ("lived_experience", {"reviewed": False}),
        "P04": ("lived_experience", None),
        "S01": ("staff", {"reviewed": True, "outcome": "agreed", "method": "form"}),
        "S02": ("staff", None),
    }
    for label, (group, review) in reviews.items():
        created = _add(client, study, label=label, group=group).json()
        if review is not None:
            client.put(
                f"{study.url}/participants/{created['id']}/validation",
                json=review,
                headers=study.coder.headers,
            )
    summary = client.get(f"{study.url}/respondent-validation", headers=study.viewer.headers).json()
    assert summary == {
        "participants": 6,
        "reviewed": 3,
        "agreed": 2,
        "changes_suggested": 1,
        "groups": [
            {
                "group": "lived_experience",
                "participants": 4,
                "reviewed": 2,
                "agreed": 1,
                "changes_suggested": 1,
            },
            {
                "group": "staff",
                "participants": 2,
                "reviewed": 1,
                "agreed": 1,
                "changes_suggested": 0,
            },
        ],
    }
