"""A study deleted with cascade takes its agreement work with it."""

from __future__ import annotations

from sqlalchemy import func, select

from service.agreement.models import Adjudication, AgreementReport
from service.coding.models import Segment
from tests.agreement.test_api_adjudication import decide
from tests.agreement.test_api_reports import save


def test_cascade_delete_removes_reports_adjudications_and_consensus_segments(app, client, nvivo):
    assert decide(client, nvivo).status_code == 201
    assert save(client, nvivo).status_code == 201
    study = nvivo.study
    assert client.delete(study.url, headers=study.owner).status_code == 409
    deleted = client.delete(study.url, params={"cascade": "true"}, headers=study.owner)
    assert deleted.status_code == 204, deleted.text
    with app.state.sessionmaker() as session:
        for table in (Adjudication, AgreementReport, Segment):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table
    assert client.get(study.url, headers=study.owner).status_code == 404
