"""The aggregation of per-cell coder patterns (pure: no database, no HTTP)."""

from fractions import Fraction

import numpy as np
import pytest

from service.agreement import aggregate as agg
from service.agreement.bands import interpret
from service.agreement.stats import STATISTICS, compute
from service.agreement.units import CodedSpan, unit_tables

BINARY = [name for name, info in STATISTICS.items() if info.weighting != "required"]
TWO_CODER = list(BINARY)
MANY_CODER = [name for name in BINARY if not STATISTICS[name].two_coders_only]


def random_tables(seed: int, n_coders: int, n_docs: int = 6, n_themes: int = 4):
    rng = np.random.default_rng(seed)
    spans = []
    for d in range(n_docs):
        for t in range(n_themes):
            for k in range(n_coders):
                for _ in range(rng.integers(0, 3)):
                    start = int(rng.integers(0, 180))
                    spans.append(
                        CodedSpan(
                            f"d{d}", f"t{t}", f"c{k}", start, start + int(rng.integers(1, 60))
                        )
                    )
    documents = {f"d{d}": 250 for d in range(n_docs)}
    themes = [f"t{t}" for t in range(n_themes)]
    coders = [f"c{k}" for k in range(n_coders)]
    return unit_tables(spans=spans, documents=documents, coders=coders, themes=themes)


@pytest.mark.parametrize(("n_coders", "statistics"), [(2, TWO_CODER), (3, MANY_CODER)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cell_figures_equal_compute_on_each_cell(seed, n_coders, statistics):
    tables = random_tables(seed, n_coders)
    cells = agg.cell_figures(tables, statistics)
    for i, (_, _, patterns, weights) in enumerate(tables.cells()):
        for statistic in statistics:
            expected = compute(statistic, ratings=patterns, weights=weights, categories=[0, 1])
            figures = cells[statistic]
            if expected.value is None:
                assert np.isnan(figures.values[i])
                assert figures.reasons[i] == expected.reason
            else:
                assert figures.values[i] == pytest.approx(expected.value, abs=1e-12)
                assert figures.reasons[i] is None


def test_cells_without_variation_are_null_with_a_reason_or_one_by_convention():
    tables = unit_tables(
        spans=[CodedSpan("d", "coded", "A", 0, 10), CodedSpan("d", "coded", "B", 5, 10)],
        documents={"d": 100},
        coders=["A", "B"],
        themes=["coded", "nobody"],
    )
    null = agg.cell_figures(tables, ["cohen_kappa", "percent_agreement"])
    assert np.isnan(null["cohen_kappa"].values[1])
    assert null["cohen_kappa"].reasons[1] == "no_variation"
    assert null["percent_agreement"].values[1] == 1.0
    one = agg.cell_figures(tables, ["cohen_kappa"], no_variation="one")["cohen_kappa"]
    assert one.values[1] == 1.0 and one.as_one[1] and one.reasons[1] == "no_variation"
    assert not one.as_one[0]


def test_pooled_theme_figure_is_the_kappa_of_the_summed_tables_not_the_mean():
    spans = [
        CodedSpan("d1", "T", "A", 100, 250),
        CodedSpan("d1", "T", "B", 200, 300),
        CodedSpan("d2", "T", "A", 0, 400),
        CodedSpan("d2", "T", "B", 50, 420),
    ]
    tables = unit_tables(spans=spans, documents={"d1": 1000, "d2": 500}, coders=["A", "B"])
    result = agg.aggregate(tables, ["cohen_kappa"])
    summed = tables.two_by_two().sum(axis=0)
    n = summed.sum()
    observed = Fraction(int(summed[0, 0] + summed[1, 1]), int(n))
    first, second = (
        Fraction(int(summed[1].sum()), int(n)),
        Fraction(int(summed[:, 1].sum()), int(n)),
    )
    chance = first * second + (1 - first) * (1 - second)
    kappa = (observed - chance) / (1 - chance)
    pooled = result.themes[0].pooled["cohen_kappa"].value
    assert pooled == pytest.approx(float(kappa), abs=1e-12)
    cells = result.cells["cohen_kappa"].values
    assert result.themes[0].cell_mean["cohen_kappa"].value == pytest.approx(cells.mean())
    assert pooled != pytest.approx(cells.mean(), abs=1e-3)
    weighted = np.average(cells, weights=[1000, 500])
    assert result.themes[0].cell_weighted_mean["cohen_kappa"].value == pytest.approx(weighted)


def test_overall_figures_are_each_named_and_computed_their_way():
    tables = random_tables(5, 2)
    result = agg.aggregate(tables, ["cohen_kappa"])
    overall = result.overall
    summed = tables.two_by_two().sum(axis=0)
    expected = compute("cohen_kappa", table=summed.tolist())
    assert overall.pooled["cohen_kappa"].value == pytest.approx(expected.value, abs=1e-12)
    theme_values = [t.pooled["cohen_kappa"].value for t in result.themes]
    defined = [v for v in theme_values if v is not None]
    assert overall.theme_mean["cohen_kappa"].value == pytest.approx(np.mean(defined))
    cells = result.cells["cohen_kappa"].values
    assert overall.cell_mean["cohen_kappa"].value == pytest.approx(np.nanmean(cells))
    assert overall.cell_mean["cohen_kappa"].n_undefined == int(np.isnan(cells).sum())
    assert (
        agg.overall_value(result, "cohen_kappa", "pooled")[0] == overall.pooled["cohen_kappa"].value
    )


def test_band_names_match_interpret_at_and_around_every_boundary():
    edges = [-0.5, 0, 0.2, 0.205, 0.21, 0.4, 0.6, 0.667, 0.79, 0.8, 0.9, 0.95, 1.0]
    values = np.array(sorted({e + d for e in edges for d in (-1e-10, 0, 1e-10, 0.001)}))
    for scheme in ("landis_koch", "mchugh", "krippendorff"):
        names = agg.band_names(values, scheme)
        assert list(names) == [interpret(float(v), scheme=scheme) for v in values]
    assert agg.band_names(np.array([np.nan]), "mchugh")[0] is None


def test_bands_fit_the_statistic():
    assert set(agg.bands_of("cohen_kappa", 0.5)) == {"landis_koch", "mchugh"}
    assert agg.bands_of("krippendorff_alpha", 0.7) == {"krippendorff": "tentative"}
    assert agg.bands_of("percent_agreement", 0.9) == {}
    assert agg.bands_of("cohen_kappa", None) == {}


def test_means_without_defined_values_say_so():
    mean = agg.mean_of(np.array([np.nan, np.nan]))
    assert mean.value is None and mean.reason == agg.NO_DEFINED_VALUES and mean.n_undefined == 2
