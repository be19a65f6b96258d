"""Interpretation bands: Landis & Koch (1977), McHugh (2012), Krippendorff."""

from __future__ import annotations

import pytest

from service.agreement.stats import BANDS, SCHEMES, AgreementInputError, interpret


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (-0.3, "poor"),
        (-0.001, "poor"),
        (0.0, "slight"),
        (0.2, "slight"),
        (0.205, "fair"),
        (0.4, "fair"),
        (0.41, "moderate"),
        (0.6, "moderate"),
        (0.61, "substantial"),
        (0.8, "substantial"),
        (0.81, "almost_perfect"),
        (1.0, "almost_perfect"),
    ],
)
def test_landis_koch(value: float, band: str) -> None:
    assert interpret(value, scheme="landis_koch") == band


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (-0.2, "none"),
        (0.0, "none"),
        (0.2, "none"),
        (0.21, "minimal"),
        (0.39, "minimal"),
        (0.4, "weak"),
        (0.59, "weak"),
        (0.6, "moderate"),
        (0.79, "moderate"),
        (0.8, "strong"),
        (0.9, "strong"),
        (0.91, "almost_perfect"),
        (1.0, "almost_perfect"),
    ],
)
def test_mchugh(value: float, band: str) -> None:
    assert interpret(value, scheme="mchugh") == band


def test_mchugh_words_mean_other_ranges_than_landis_koch() -> None:
    assert interpret(0.5, scheme="landis_koch") == "moderate"
    assert interpret(0.5, scheme="mchugh") == "weak"
    assert interpret(0.7, scheme="landis_koch") == "substantial"
    assert interpret(0.7, scheme="mchugh") == "moderate"


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0.5, "unreliable"),
        (0.666, "unreliable"),
        (0.667, "tentative"),
        (0.7999, "tentative"),
        (0.8, "reliable"),
        (0.8 - 1e-12, "reliable"),
        (1.0, "reliable"),
    ],
)
def test_krippendorff_rule(value: float, band: str) -> None:
    assert interpret(value, scheme="krippendorff") == band


def test_default_scheme_is_landis_koch_and_none_has_no_band() -> None:
    assert interpret(0.5) == "moderate"
    assert interpret(None, scheme="mchugh") is None
    assert interpret(float("nan")) is None


def test_unknown_scheme_is_an_input_error() -> None:
    with pytest.raises(AgreementInputError, match="scheme"):
        interpret(0.5, scheme="cicchetti")


def test_published_tables_are_listed_in_ascending_order() -> None:
    assert SCHEMES == ("landis_koch", "mchugh", "krippendorff")
    for bands in BANDS.values():
        assert bands[0].lower is None
        lowers = [band.lower for band in bands[1:]]
        assert lowers == sorted(lowers)
        assert len({band.name for band in bands}) == len(bands)
