"""GET /v1/studies/{id}/agreement through HTTP, on SQLite and PostgreSQL."""

import csv
import io
from fractions import Fraction

import pytest

from service.agreement.schemas import AgreementResult

# 8 words, 3 sentences ([0, 17), [18, 32), [33, 48)), 2 paragraphs; 49 characters.
SMALL_TEXT = "Alpha beta gamma. Delta epsilon.\nZeta eta theta.\n"


def kappa_of(both, first_only, second_only, neither):
    n = both + first_only + second_only + neither
    observed = Fraction(both + neither, n)
    first, second = Fraction(both + first_only, n), Fraction(both + second_only, n)
    chance = first * second + (1 - first) * (1 - second)
    return observed, (observed - chance) / (1 - chance)


def test_nvivo_example_gives_85_percent_agreement_and_kappa_0_318(client, nvivo):
    study = nvivo.study
    response = study.agreement(client, [nvivo.a, nvivo.b], theme="1.2")
    assert response.status_code == 200
    body = response.json()
    AgreementResult.model_validate(body)  # the documented shape
    overall = body["overall"]
    assert overall["table"] == {"both": 50, "first_only": 100, "second_only": 50, "neither": 800}
    assert overall["pooled"]["percent_agreement"]["value"] == pytest.approx(0.85)
    kappa = overall["pooled"]["cohen_kappa"]
    assert kappa["value"] == pytest.approx(7 / 22, abs=1e-12)  # 0.318
    assert kappa["bands"] == {"landis_koch": "fair", "mchugh": "minimal"}
    assert kappa["ci"]["method"] == "normal"
    [cell] = body["cells"]
    assert cell["statistics"]["cohen_kappa"]["value"] == pytest.approx(7 / 22, abs=1e-12)
    assert cell["document_id"] == nvivo.document
    verdict = body["threshold"]
    assert verdict["statistic"] == "cohen_kappa" and verdict["aggregation"] == "pooled"
    assert verdict["threshold"] == 0.6 and verdict["passed"] is False
    assert verdict["themes_not_meeting"] == [study.themes["1.2"]]
    assert body["framework"]["slug"] == "civic" and body["framework"]["version"] == "2"
    assert body["parameters"]["unit"] == "character"
    assert body["parameters"]["documents"] == [nvivo.document]
    assert body["parameters"]["documents_default"] is True
    assert len(body["data_hash"]) == 64


def test_every_theme_by_default_with_untouched_cells_null_and_explained(client, nvivo):
    study = nvivo.study
    body = study.agreement(client, [nvivo.a, nvivo.b]).json()
    assert len(body["themes"]) == 18 and len(body["cells"]) == 18
    untouched = [c for c in body["cells"] if c["theme_id"] != study.themes["1.2"]]
    kappa = untouched[0]["statistics"]["cohen_kappa"]
    assert kappa == {"value": None, "reason": "no_variation", "bands": {}}
    assert untouched[0]["statistics"]["percent_agreement"]["value"] == 1.0
    # The pooled overall figure sums all 18 tables; the cell mean leaves the nulls out.
    assert body["overall"]["cell_mean"]["cohen_kappa"]["n_undefined"] == 17
    one = study.agreement(client, [nvivo.a, nvivo.b], no_variation="one").json()
    kappa = next(c for c in one["cells"] if c["theme_id"] != study.themes["1.2"])
    assert kappa["statistics"]["cohen_kappa"]["value"] == 1.0
    assert kappa["statistics"]["cohen_kappa"]["convention"] == "no_variation_as_one"


def test_per_theme_pooled_is_the_kappa_of_the_summed_tables(client, coded):
    a, b = coded.coder("A"), coded.coder("B")
    first, second = coded.document("x" * 1000), coded.document("y" * 600)
    for doc, (a_span, b_span) in (
        (first, ((100, 250), (200, 300))),
        (second, ((0, 300), (50, 320))),
    ):
        coded.segment(doc, "1.2", a, *a_span)
        coded.segment(doc, "1.2", b, *b_span)
    body = coded.agreement(client, [a, b], theme="1.2").json()
    tables = [c["table"] for c in body["cells"]]
    summed = {key: sum(t[key] for t in tables) for key in tables[0]}
    _, kappa = kappa_of(**summed)
    [theme] = body["themes"]
    assert theme["table"] == summed
    assert theme["pooled"]["cohen_kappa"]["value"] == pytest.approx(float(kappa), abs=1e-12)
    cells = [c["statistics"]["cohen_kappa"]["value"] for c in body["cells"]]
    assert theme["cell_mean"]["cohen_kappa"]["value"] == pytest.approx(sum(cells) / 2)
    weighted = (cells[0] * 1000 + cells[1] * 600) / 1600
    assert theme["cell_weighted_mean"]["cohen_kappa"]["value"] == pytest.approx(weighted)
    assert theme["pooled"]["cohen_kappa"]["value"] != pytest.approx(sum(cells) / 2, abs=1e-3)
    cell_mean = coded.agreement(client, [a, b], theme="1.2", aggregation="cell_mean").json()
    assert cell_mean["threshold"]["aggregation"] == "cell_mean"
    assert cell_mean["threshold"]["value"] == pytest.approx(sum(cells) / 2)


@pytest.fixture
def small(coded):
    """SMALL_TEXT: A codes "Alpha beta" [0, 10), B codes "beta gamma. Delta" [6, 23)."""
    document = coded.document(SMALL_TEXT)
    a, b = coded.coder("A"), coded.coder("B")
    coded.segment(document, "1.2", a, 0, 10)
    coded.segment(document, "1.2", b, 6, 23)
    return coded, a, b


# Hand-checked tables (both, first_only, second_only, neither) of the small study.
UNIT_TABLES = {
    "character": (4, 6, 13, 26),  # 49 characters
    "coded_only": (4, 6, 13, 0),
    "word": (1, 1, 2, 4),  # A: Alpha, beta; B: beta, gamma., Delta; 8 words
    "sentence": (1, 0, 1, 1),  # A: sentence 1; B: sentences 1 and 2; 3 sentences
    "paragraph": (1, 0, 0, 1),  # both touch the first of 2 lines
    "document": (1, 0, 0, 0),
}


@pytest.mark.parametrize("unit", list(UNIT_TABLES))
def test_every_unit_on_a_hand_checked_study(client, small, unit):
    coded, a, b = small
    response = coded.agreement(client, [a, b], theme="1.2", unit=unit)
    assert response.status_code == 200, response.text
    body = response.json()
    both, first, second, neither = UNIT_TABLES[unit]
    expected = {"both": both, "first_only": first, "second_only": second, "neither": neither}
    assert body["cells"][0]["table"] == expected
    assert body["parameters"]["unit"] == unit
    percent = body["overall"]["pooled"]["percent_agreement"]["value"]
    assert percent == pytest.approx((both + neither) / (both + first + second + neither))
    if unit == "character":
        _, kappa = kappa_of(*UNIT_TABLES[unit])
        assert body["overall"]["pooled"]["cohen_kappa"]["value"] == pytest.approx(float(kappa))


def test_min_share_makes_a_barely_touched_sentence_uncoded(client, small):
    coded, a, b = small
    body = coded.agreement(client, [a, b], theme="1.2", unit="sentence", min_share=50).json()
    # B covers 5 of sentence 2's 14 characters (36 %): no longer coded.
    assert body["cells"][0]["table"] == {"both": 1, "first_only": 0, "second_only": 0, "neither": 2}
    assert body["parameters"]["min_share"] == 50


def test_segment_unit_counts_matching_segments_at_the_overlap_threshold(client, small):
    coded, a, b = small
    document = coded.document("p" * 200)
    coded.segment(document, "2", a, 0, 100)
    coded.segment(document, "2", b, 5, 100)  # overlap 95 %
    coded.segment(document, "1.2", a, 150, 200)
    coded.segment(document, "1.2", b, 150, 180)  # overlap 60 %
    response = coded.agreement(
        client, [a, b], theme=["2", "1.2"], unit="segment", document=document
    )
    body = response.json()
    assert body["parameters"]["statistics"] == ["percent_agreement", "brennan_prediger"]
    assert body["parameters"]["min_overlap"] == 90
    tables = {c["theme_id"]: c["table"] for c in body["cells"]}
    assert tables[coded.themes["2"]] == {"both": 2, "first_only": 0, "second_only": 0, "neither": 0}
    assert tables[coded.themes["1.2"]] == {
        "both": 0,
        "first_only": 1,
        "second_only": 1,
        "neither": 0,
    }
    lower = coded.agreement(
        client, [a, b], theme="1.2", unit="segment", document=document, min_overlap=60
    ).json()
    assert lower["cells"][0]["table"]["both"] == 2


def test_a_coder_group_codes_what_any_member_coded(client, coded):
    document = coded.document("x" * 1000)
    a, b, c = coded.coder("A"), coded.coder("B"), coded.coder("C")
    coded.segment(document, "1.2", a, 100, 250)
    coded.segment(document, "1.2", b, 200, 250)
    coded.segment(document, "1.2", c, 240, 300)
    # "+" in a raw query string arrives as a space; an escaped %2B as "+": both work.
    for group in (f"{b}+{c}", f"{b} {c}"):
        body = coded.agreement(client, [a, group], theme="1.2").json()
        assert body["overall"]["table"]["both"] == 50
        assert body["overall"]["pooled"]["cohen_kappa"]["value"] == pytest.approx(7 / 22)
        assert body["parameters"]["coders"] == [[a], [b, c]]
        assert [m["name"] for m in body["coders"][1]["coders"]] == ["B", "C"]
    # Groups work with the segment unit too: B and C's touching segments form one run.
    segments = coded.agreement(client, [a, f"{b}+{c}"], theme="1.2", unit="segment").json()
    assert segments["cells"][0]["table"] == {
        "both": 0,
        "first_only": 1,
        "second_only": 1,
        "neither": 0,
    }


def test_three_coders_default_to_alpha_and_fleiss_with_pattern_counts(client, coded):
    document = coded.document("x" * 100)
    coders = [coded.coder(name) for name in "ABC"]
    for k, coder in enumerate(coders):
        coded.segment(document, "1", coder, 10 * k, 50)
    body = coded.agreement(client, coders, theme="1").json()
    assert body["parameters"]["statistics"] == [
        "krippendorff_alpha",
        "fleiss_kappa",
        "percent_agreement",
    ]
    alpha = body["overall"]["pooled"]["krippendorff_alpha"]
    assert set(alpha["bands"]) == {"krippendorff"}
    assert body["threshold"]["statistic"] == "krippendorff_alpha"
    patterns = {tuple(p["coded"]): p["units"] for p in body["cells"][0]["patterns"]}
    assert patterns == {(0, 0, 0): 50, (1, 0, 0): 10, (1, 1, 0): 10, (1, 1, 1): 30}
    assert body["cells"][0]["table"] is None


def test_subthemes_fold_into_their_parent(client, coded):
    document = coded.document("x" * 1000)
    a, b = coded.coder("A"), coded.coder("B")
    coded.segment(document, "1.1", a, 0, 100)
    coded.segment(document, "1.2", b, 0, 100)  # same passage, sibling subthemes
    body = coded.agreement(client, [a, b], include_subthemes="true").json()
    assert [t["code"] for t in body["themes"]] == ["1", "2", "3", "4", "5", "6", "7"]
    closeness = body["themes"][0]
    assert closeness["table"]["both"] == 100
    assert closeness["pooled"]["cohen_kappa"]["value"] == 1.0
    split = coded.agreement(client, [a, b], theme=["1", "1.1"]).json()
    assert split["themes"][0]["table"]["both"] == 0  # nobody coded "1" itself


def test_default_documents_are_those_coded_by_two_coders(client, coded):
    a, b = coded.coder("A"), coded.coder("B")
    double, single, _blank = (coded.document("x" * 100) for _ in range(3))
    coded.segment(double, "1", a, 0, 10)
    coded.segment(double, "2", b, 0, 10)
    coded.segment(single, "1", a, 0, 10)
    body = coded.agreement(client, [a, b]).json()
    assert body["parameters"]["documents"] == [double]
    chosen = coded.agreement(client, [a, b], document=[double, single]).json()
    assert chosen["parameters"]["documents"] == [double, single]
    assert chosen["parameters"]["documents_default"] is False


def test_pass_filter_and_data_hash_follow_the_data(client, nvivo):
    study = nvivo.study
    first = study.agreement(client, [nvivo.a, nvivo.b], theme="1.2").json()
    again = study.agreement(client, [nvivo.a, nvivo.b], theme="1.2").json()
    assert first["data_hash"] == again["data_hash"]
    round_two = study.coding_pass("Round 2", nvivo.a)
    study.segment(nvivo.document, "1.2", nvivo.a, 500, 600, pass_id=round_two)
    changed = study.agreement(client, [nvivo.a, nvivo.b], theme="1.2").json()
    assert changed["data_hash"] != first["data_hash"]
    assert changed["n_segments"] == 3
    only = study.agreement(client, [nvivo.a, nvivo.b], theme="1.2", **{"pass": round_two})
    assert only.status_code == 422  # B has no segment in that pass: no document qualifies
    assert only.json()["errors"][0]["type"] == "no_documents"


def test_csv_gives_the_per_cell_table(client, nvivo):
    study = nvivo.study
    params = {"coder": [nvivo.a, nvivo.b], "theme": "1.2"}
    by_parameter = client.get(
        f"{study.url}/agreement", params={**params, "format": "csv"}, headers=study.owner
    )
    by_accept = client.get(
        f"{study.url}/agreement", params=params, headers={**study.owner, "Accept": "text/csv"}
    )
    for response in (by_parameter, by_accept):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        [row] = list(csv.DictReader(io.StringIO(response.text)))
        assert row["theme_code"] == "1.2" and row["document_title"] == "Interview 1"
        counts = [row[name] for name in ("both", "first_only", "second_only", "neither")]
        assert counts == ["50", "100", "50", "800"]
        assert float(row["cohen_kappa"]) == pytest.approx(7 / 22)
        assert row["cohen_kappa_landis_koch"] == "fair"
        assert row["cohen_kappa_reason"] == ""
        assert len(response.headers["x-data-hash"]) == 64


def test_bootstrap_intervals_are_reproducible_from_the_reported_seed(client, nvivo):
    study = nvivo.study
    body = study.agreement(client, [nvivo.a, nvivo.b], theme="1.2", bootstrap_resamples=200).json()
    seed = body["parameters"]["seed"]
    ci = body["overall"]["pooled"]["cohen_kappa"]["ci"]
    assert ci["method"] == "bootstrap_percentile" and ci["seed"] == seed
    again = study.agreement(
        client, [nvivo.a, nvivo.b], theme="1.2", bootstrap_resamples=200, seed=seed
    ).json()
    assert again["overall"]["pooled"]["cohen_kappa"]["ci"] == ci


def test_the_unit_defaults_to_the_study_setting(client, make_coded):
    coded = make_coded(default_agreement_unit="document", agreement_threshold=0.2)
    document = coded.document("x" * 100)
    a, b = coded.coder("A"), coded.coder("B")
    coded.segment(document, "1", a, 0, 10)
    coded.segment(document, "1", b, 50, 60)
    body = coded.agreement(client, [a, b], theme="1").json()
    assert body["parameters"]["unit"] == "document"
    assert body["cells"][0]["table"] == {"both": 1, "first_only": 0, "second_only": 0, "neither": 0}
    assert body["threshold"]["threshold"] == 0.2


def test_viewers_may_read_agreement_and_outsiders_get_404(client, nvivo):
    study = nvivo.study
    assert study.agreement(client, [nvivo.a, nvivo.b], headers=study.viewer).status_code == 200
    assert study.agreement(client, [nvivo.a, nvivo.b], headers=study.outsider).status_code == 404
    no_key = client.get(f"{study.url}/agreement", params={"coder": [nvivo.a, nvivo.b]})
    assert no_key.status_code == 401


def test_queries_do_not_grow_with_documents_or_segments(client, app, coded):
    from sqlalchemy import event

    a, b = coded.coder("A"), coded.coder("B")

    def add_documents(n):
        for _ in range(n):
            document = coded.document("Alpha beta. Gamma delta.\nEpsilon.\n" * 20)
            for k in range(10):
                coded.segment(document, "1", a, 30 * k, 30 * k + 20)
                coded.segment(document, "2", b, 30 * k + 5, 30 * k + 25)

    def statements(unit):
        seen = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(app.state.engine, "before_cursor_execute", count)
        try:
            assert coded.agreement(client, [a, b], unit=unit).status_code == 200
        finally:
            event.remove(app.state.engine, "before_cursor_execute", count)
        return [s for s in seen if "segments" in s.lower()], len(seen)

    add_documents(1)
    statements("character")  # the key's first use also records last_used_at
    small_segments, small = statements("character")
    add_documents(4)
    large_segments, large = statements("character")
    assert large == small and len(large_segments) == len(small_segments) == 1
    _, with_text = statements("word")
    assert with_text == large + 1  # the texts, in one more query
