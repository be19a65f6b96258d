"""Blind coding: until revealed, agreement and disagreements are for owners only."""

from datetime import UTC, datetime

import pytest

from service.coding.models import CodingPass


@pytest.fixture
def blind_study(make_coded):
    coded = make_coded(blind=True)
    document = coded.document("x" * 1000)
    a = coded.coder("A", principal_id=coded.coder_principal)  # the coder member's own coder
    b = coded.coder("B")
    coded.segment(document, "1.2", a, 100, 250)
    coded.segment(document, "1.2", b, 200, 300)
    return coded, a, b, document


def routes(client, coded, a, b, headers):
    params = {"coder": [a, b]}
    report = {"parameters": {"coders": [a, b]}}
    return {
        "agreement": client.get(f"{coded.url}/agreement", params=params, headers=headers),
        "disagreements": client.get(f"{coded.url}/disagreements", params=params, headers=headers),
        "report": client.post(f"{coded.url}/agreement-reports", json=report, headers=headers),
    }


def test_blind_study_figures_are_for_owners_only_until_revealed(client, blind_study):
    coded, a, b, _ = blind_study
    for who in (coded.coder_member, coded.viewer):
        for name, response in routes(client, coded, a, b, who).items():
            assert response.status_code == 403, (name, response.text)
            if who is coded.coder_member or name != "report":  # viewers never save reports
                assert "independent" in response.json()["detail"]
    owner = routes(client, coded, a, b, coded.owner)
    assert all(r.status_code in (200, 201) for r in owner.values())
    assert owner["agreement"].json()["blind"] == {"study": True, "passes": []}
    report_id = owner["report"].json()["id"]
    hidden = client.get(f"{coded.url}/agreement-reports/{report_id}", headers=coded.viewer)
    assert hidden.status_code == 403
    listed = client.get(f"{coded.url}/agreement-reports", headers=coded.owner).json()
    assert len(listed["items"]) == 1

    coded.reveal_study()
    for name, response in routes(client, coded, a, b, coded.viewer).items():
        expected = 403 if name == "report" else 200  # viewers never save reports
        assert response.status_code == expected, (name, response.text)
    shown = client.get(f"{coded.url}/agreement-reports/{report_id}", headers=coded.viewer)
    assert shown.status_code == 200


def test_a_blind_pass_hides_its_segments_until_the_pass_is_revealed(client, coded):
    document = coded.document("x" * 1000)
    a, b = coded.coder("A"), coded.coder("B")
    blind = coded.coding_pass("Deductive B", b, kind="deductive", blind=True)
    coded.segment(document, "1.2", a, 100, 250)
    coded.segment(document, "1.2", b, 200, 300, pass_id=blind)
    params = {"coder": [a, b], "theme": "1.2"}
    for headers in (coded.viewer, coded.coder_member):
        response = client.get(f"{coded.url}/agreement", params=params, headers=headers)
        assert response.status_code == 403
    owner = client.get(f"{coded.url}/agreement", params=params, headers=coded.owner).json()
    assert owner["blind"]["passes"] == [blind]
    report = client.post(
        f"{coded.url}/agreement-reports",
        json={"parameters": {"coders": [a, b]}},
        headers=coded.owner,
    ).json()
    listed = client.get(f"{coded.url}/agreement-reports", headers=coded.viewer).json()
    assert listed["items"] == []  # the report on the hidden pass is left out

    coded.update(CodingPass, blind, revealed_at=datetime.now(UTC))
    response = client.get(f"{coded.url}/agreement", params=params, headers=coded.viewer)
    assert response.status_code == 200
    assert response.json()["overall"]["pooled"]["cohen_kappa"]["value"] == pytest.approx(7 / 22)
    listed = client.get(f"{coded.url}/agreement-reports", headers=coded.viewer).json()
    assert [r["id"] for r in listed["items"]] == [report["id"]]


def test_adjudication_while_blind_is_for_owners_only(client, blind_study):
    coded, _, _, document = blind_study
    body = {
        "document_id": document,
        "theme_id": coded.themes["1.2"],
        "start": 100,
        "end": 200,
        "decision": "apply",
    }
    response = client.post(f"{coded.url}/adjudications", json=body, headers=coded.coder_member)
    assert response.status_code == 403
    listing = client.get(f"{coded.url}/adjudications", headers=coded.viewer)
    assert listing.status_code == 403
    response = client.post(f"{coded.url}/adjudications", json=body, headers=coded.owner)
    assert response.status_code == 201
