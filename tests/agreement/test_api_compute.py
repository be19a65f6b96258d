"""POST /v1/agreement: statistics on data the client sends, checked on published examples."""

import pytest

from service.agreement.stats import MAX_BOOTSTRAP_RESAMPLES

# Fleiss (1971), Psychological Bulletin 76:378-382: 30 subjects, 6 raters, 5 categories;
# kappa = .430 (R irr::kappam.fleiss: 0.4302445).
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]  # fmt: skip


def post(client, headers, **body):
    return client.post("/v1/agreement", json=body, headers=headers)


def test_fleiss_1971_kappa_is_0_430(client, make_key):
    clinician = make_key("clinician")  # any authenticated role may call it
    response = post(client, clinician, ratings=FLEISS_1971, statistics=["fleiss_kappa"])
    assert response.status_code == 200, response.text
    [fleiss] = response.json()["results"]
    assert round(fleiss["value"], 3) == 0.430
    assert fleiss["value"] == pytest.approx(0.4302445, abs=5e-8)
    assert fleiss["bands"] == {"landis_koch": "moderate", "mchugh": "weak"}
    assert fleiss["n_units"] == 30 and fleiss["n_coders"] == 6


def test_many_coders_default_to_alpha_fleiss_and_percent_agreement(client, researcher):
    body = post(client, researcher, ratings=FLEISS_1971).json()
    assert [r["statistic"] for r in body["results"]] == [
        "krippendorff_alpha",
        "fleiss_kappa",
        "percent_agreement",
    ]
    assert set(body["results"][0]["bands"]) == {"krippendorff"}


def test_a_confusion_table_gives_cohen_kappa_the_nvivo_way(client, researcher):
    body = post(client, researcher, table=[[800, 50], [100, 50]]).json()
    kappa, percent = body["results"]
    assert kappa["statistic"] == "cohen_kappa" and kappa["value"] == pytest.approx(7 / 22)
    assert percent["value"] == pytest.approx(0.85)


def test_weighted_kappa_with_ordered_categories_and_a_bootstrap(client, researcher):
    table = [[10, 2, 0], [3, 12, 4], [0, 1, 8]]
    body = post(
        client,
        researcher,
        table=table,
        categories=[1, 2, 3],
        weighting="quadratic",
        statistics=["weighted_kappa", "cohen_kappa"],
        bootstrap_resamples=500,
        seed=11,
    ).json()
    weighted, plain = body["results"]
    assert weighted["weighting"] == "quadratic" and plain["weighting"] is None
    assert weighted["value"] > plain["value"]
    assert weighted["ci"]["method"] == "bootstrap_percentile" and weighted["ci"]["seed"] == 11


def test_degenerate_data_gives_null_with_a_reason_never_nan(client, researcher):
    body = post(client, researcher, ratings=[[1, 1], [1, 1], [1, 1]]).json()
    kappa = body["results"][0]
    assert kappa["value"] is None and kappa["reason"] == "no_variation"


def test_weighted_kappa_without_categories_is_422(client, researcher):
    response = post(
        client,
        researcher,
        table=[[1, 2], [3, 4]],
        weighting="linear",
        statistics=["weighted_kappa"],
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["type"] == "categories_required" and error["loc"] == ["body", "categories"]


def test_bad_requests_are_422(client, researcher):
    too_many = MAX_BOOTSTRAP_RESAMPLES + 1
    cases = [
        {"table": [[1, 2], [3, 4]], "bootstrap_resamples": too_many},
        {"table": [[1, 2], [3, 4]], "statistics": ["magic_kappa"]},
        {"ratings": [[1], [2]]},  # one coder
        {"ratings": [[1, 2], [1]]},  # ragged
        {"table": [[1, 2], [3, 4]], "ratings": [[1, 2]]},  # both
        {},  # neither
        {"ratings": [[1, 2, 3]], "statistics": ["cohen_kappa"]},  # three coders
        {"table": [[1, -2], [3, 4]]},
    ]
    for body in cases:
        response = post(client, researcher, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "body",
    [
        # 1 - expected agreement rounded to 0: ZeroDivisionError.
        {"table": [[10**30, 1], [2, 7]]},
        {"table": [[1e300, 3e194], [1085, 4]], "weighting": "linear", "categories": [0, 1]},
        # More units than the bootstrap can draw: OverflowError.
        {"table": [[2**62, 1], [1, 2**62]], "bootstrap_resamples": 5, "seed": 1},
        {"ratings": [[1, 2], [2, 2]], "weights": [1e308, 1e308]},
        # Squared distances overflow to inf, then NaN: not JSON.
        {"ratings": [[1e300, 0], [0, 1e300], [1, 1]], "level": "interval"},
        {"ratings": [[1, 2], [2, 1]], "categories": [1, 2, -1e300]},
    ],
)
def test_counts_and_codes_beyond_float_precision_are_422_not_500(client, researcher, body):
    response = post(client, researcher, **body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_codes_too_close_to_tell_apart_have_no_variation_not_nan(client, researcher):
    # (1e-200)**2 underflows to 0: no expected disagreement, which was a 0/0 = NaN (500).
    ratings = [[1e-200, 0], [0, 1e-200], [0, 0]]
    body = post(
        client, researcher, ratings=ratings, level="interval", statistics=["krippendorff_alpha"]
    ).json()
    [alpha] = body["results"]
    assert alpha["value"] is None and alpha["reason"] == "no_variation"


def test_without_a_key_it_is_401(client):
    assert client.post("/v1/agreement", json={"table": [[1, 0], [0, 1]]}).status_code == 401
