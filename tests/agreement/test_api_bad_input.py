"""What each kind of bad input to the study agreement routes gets, and where it says so."""

import uuid

from service.agreement.stats import MAX_BOOTSTRAP_RESAMPLES


def problem(response, status=422):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_one_coder_only_is_422(client, nvivo):
    body = problem(nvivo.study.agreement(client, [nvivo.a]))
    assert body["errors"][0]["loc"] == ["query", "coder"]
    assert body["errors"][0]["type"] == "too_few_coders"


def test_no_coder_at_all_is_422(client, nvivo):
    problem(client.get(f"{nvivo.study.url}/agreement", headers=nvivo.study.owner))


def test_unknown_coder_theme_and_document_are_named(client, nvivo):
    study, stranger = nvivo.study, str(uuid.uuid4())
    body = problem(study.agreement(client, [nvivo.a, stranger]))
    assert body["errors"][0]["loc"] == ["query", "coder", 1]
    assert stranger in body["detail"] and body["errors"][0]["type"] == "unknown_coder"
    body = problem(study.agreement(client, [nvivo.a, nvivo.b], theme=["1.2", "9.9"]))
    assert body["errors"][0]["loc"] == ["query", "theme", 1] and "'9.9'" in body["detail"]
    body = problem(study.agreement(client, [nvivo.a, nvivo.b], document=stranger))
    assert body["errors"][0]["loc"] == ["query", "document", 0] and stranger in body["detail"]
    body = problem(study.agreement(client, [nvivo.a, "not-an-id"]))
    assert body["errors"][0]["loc"] == ["query", "coder", 1]


def test_a_coder_on_both_sides_is_422(client, nvivo):
    body = problem(nvivo.study.agreement(client, [nvivo.a, f"{nvivo.a}+{nvivo.b}"]))
    assert "more than once" in body["detail"]


def test_coders_of_another_study_are_unknown(client, nvivo, make_coded):
    other = make_coded()
    foreign = other.coder("Someone else")
    body = problem(nvivo.study.agreement(client, [nvivo.a, foreign]))
    assert body["errors"][0]["type"] == "unknown_coder"


def test_text_units_on_a_document_without_text_are_422(client, coded):
    a, b = coded.coder("A"), coded.coder("B")
    empty = coded.document("", title="Audio only")
    body = problem(coded.agreement(client, [a, b], unit="paragraph", document=empty))
    assert "paragraph" in body["detail"] and "Audio only" in body["detail"]
    assert body["errors"][0]["type"] == "unit_unsupported"


def test_segment_unit_with_three_coders_is_422(client, coded):
    coders = [coded.coder(name) for name in "ABC"]
    body = problem(coded.agreement(client, coders, unit="segment"))
    assert body["errors"][0]["loc"] == ["query", "unit"]


def test_unit_options_for_another_unit_are_422(client, nvivo):
    study = nvivo.study
    body = problem(study.agreement(client, [nvivo.a, nvivo.b], unit="character", min_share=50))
    assert body["errors"][0]["loc"] == ["query", "min_share"]
    body = problem(study.agreement(client, [nvivo.a, nvivo.b], unit="word", min_overlap=80))
    assert body["errors"][0]["loc"] == ["query", "min_overlap"]
    problem(study.agreement(client, [nvivo.a, nvivo.b], unit="word", min_share=150))


def test_weighted_statistics_need_ordered_categories(client, nvivo):
    study = nvivo.study
    body = problem(study.agreement(client, [nvivo.a, nvivo.b], statistic="weighted_kappa"))
    assert body["errors"][0]["type"] == "categories_required"
    assert body["errors"][0]["loc"] == ["query", "statistic", 0]


def test_two_coder_statistics_with_three_coders_are_422(client, coded):
    coders = [coded.coder(name) for name in "ABC"]
    body = problem(coded.agreement(client, coders, statistic="cohen_kappa"))
    assert body["errors"][0]["type"] == "two_coders_required"


def test_unknown_statistic_and_unit_are_422(client, nvivo):
    study = nvivo.study
    body = problem(study.agreement(client, [nvivo.a, nvivo.b], statistic="magic_kappa"))
    assert body["errors"][0]["loc"][:2] == ["query", "statistic"]
    problem(study.agreement(client, [nvivo.a, nvivo.b], unit="chapter"))


def test_more_bootstrap_resamples_than_the_limit_is_422(client, nvivo):
    study = nvivo.study
    too_many = MAX_BOOTSTRAP_RESAMPLES + 1
    body = problem(study.agreement(client, [nvivo.a, nvivo.b], bootstrap_resamples=too_many))
    assert body["errors"][0]["loc"] == ["query", "bootstrap_resamples"]


def test_non_members_get_404_on_every_study_route(client, nvivo):
    study = nvivo.study
    headers = study.outsider
    params = {"coder": [nvivo.a, nvivo.b]}
    for path in ("agreement", "disagreements", "adjudications", "agreement-reports"):
        assert client.get(f"{study.url}/{path}", params=params, headers=headers).status_code == 404
    adjudication = {
        "document_id": nvivo.document,
        "theme_id": study.themes["1.2"],
        "start": 0,
        "end": 10,
        "decision": "apply",
    }
    created = client.post(f"{study.url}/adjudications", json=adjudication, headers=headers)
    assert created.status_code == 404
    report = {"parameters": {"coders": [nvivo.a, nvivo.b]}}
    created = client.post(f"{study.url}/agreement-reports", json=report, headers=headers)
    assert created.status_code == 404
