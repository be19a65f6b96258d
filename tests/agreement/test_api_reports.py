"""Saved agreement reports: stored as computed, listed, read with an ETag, verified."""

import uuid

from sqlalchemy import delete

from service.agreement.schemas import AgreementResult
from service.coding.models import Coder, Segment


def save(client, nvivo, headers=None, **parameters):
    study = nvivo.study
    body = {
        "title": "Kappa for the paper",
        "parameters": {"coders": [nvivo.a, nvivo.b], "themes": ["1.2"]} | parameters,
    }
    return client.post(f"{study.url}/agreement-reports", json=body, headers=headers or study.owner)


def test_a_saved_report_keeps_parameters_hash_framework_results_who_and_when(client, nvivo):
    study = nvivo.study
    response = save(client, nvivo)
    assert response.status_code == 201, response.text
    report = response.json()
    assert response.headers["location"].endswith(report["id"])
    assert report["title"] == "Kappa for the paper"
    assert report["created_by_name"].startswith("owner-")
    assert report["framework_id"] == study.framework_id
    assert report["parameters"]["documents"] == [nvivo.document]
    assert report["parameters"]["themes"] == [study.themes["1.2"]]
    results = AgreementResult.model_validate(report["results"])
    assert results.overall.pooled["cohen_kappa"].value == 7 / 22
    assert report["data_hash"] == results.data_hash
    assert report["threshold"]["passed"] is False
    live = study.agreement(client, [nvivo.a, nvivo.b], theme="1.2").json()
    assert live["data_hash"] == report["data_hash"]


def test_reports_are_listed_without_results_and_read_with_an_etag(client, nvivo):
    study = nvivo.study
    first = save(client, nvivo).json()
    save(client, nvivo, headers=study.coder_member, unit="word")
    listed = client.get(f"{study.url}/agreement-reports", headers=study.viewer).json()
    assert listed["items"][0]["id"] == first["id"]
    assert len(listed["items"]) == 2 and "results" not in listed["items"][0]
    one = client.get(f"{study.url}/agreement-reports/{first['id']}", headers=study.viewer)
    assert one.status_code == 200 and one.json()["results"] == first["results"]
    cached = client.get(
        f"{study.url}/agreement-reports/{first['id']}",
        headers={**study.viewer, "If-None-Match": one.headers["etag"]},
    )
    assert cached.status_code == 304
    missing = client.get(
        f"{study.url}/agreement-reports/00000000-0000-0000-0000-000000000000",
        headers=study.owner,
    )
    assert missing.status_code == 404


def test_verify_matches_until_the_data_changes(client, nvivo):
    study = nvivo.study
    report = save(client, nvivo, bootstrap_resamples=100).json()
    url = f"{study.url}/agreement-reports/{report['id']}/verify"
    fresh = client.get(url, headers=study.viewer).json()
    assert fresh["data_matches"] is True and fresh["results_match"] is True
    assert fresh["current_data_hash"] == report["data_hash"]
    study.update(Segment, nvivo.segments[1], end=320)  # B widens a segment
    stale = client.get(url, headers=study.viewer).json()
    assert stale["data_matches"] is False and stale["results_match"] is False
    assert stale["data_hash"] == report["data_hash"] != stale["current_data_hash"]


def test_verify_says_why_a_report_can_no_longer_be_computed(client, nvivo, app):
    study = nvivo.study
    report = save(client, nvivo).json()
    url = f"{study.url}/agreement-reports/{report['id']}/verify"
    coder_b = uuid.UUID(nvivo.b)
    with app.state.sessionmaker() as session:
        session.execute(delete(Segment).where(Segment.coder_id == coder_b))
        session.commit()
    result = client.get(url, headers=study.owner).json()
    assert result["data_matches"] is False and result["current_data_hash"]
    assert result["problem"] is None  # still computable: B simply coded nothing now
    with app.state.sessionmaker() as session:
        session.execute(delete(Coder).where(Coder.id == coder_b))
        session.commit()
    result = client.get(url, headers=study.owner).json()
    assert result["data_matches"] is False and result["current_data_hash"] is None
    assert nvivo.b in result["problem"]


def test_bad_report_parameters_are_422_in_the_body(client, nvivo):
    response = save(client, nvivo, coders=[nvivo.a])
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "parameters", "coders"]
    response = save(client, nvivo, themes=["nope"])
    assert response.json()["errors"][0]["loc"] == ["body", "parameters", "themes", 0]


def test_a_title_with_a_nul_is_422_not_500(client, nvivo):
    # PostgreSQL cannot store NUL in text.
    body = {"title": "Kappa\x00", "parameters": {"coders": [nvivo.a, nvivo.b]}}
    response = client.post(
        f"{nvivo.study.url}/agreement-reports", json=body, headers=nvivo.study.owner
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "title"]


def test_viewers_may_not_save_reports(client, nvivo):
    assert save(client, nvivo, headers=nvivo.study.viewer).status_code == 403
