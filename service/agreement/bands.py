"""Verbal interpretation bands for agreement coefficients.

Three published schemes:

* ``landis_koch`` - Landis & Koch (1977), Biometrics 33:159-174: poor (< 0),
  slight (0-.20), fair (.21-.40), moderate (.41-.60), substantial (.61-.80),
  almost perfect (.81-1).
* ``mchugh`` - McHugh (2012), Biochemia Medica 22(3):276-282, Table 3: none
  (0-.20), minimal (.21-.39), weak (.40-.59), moderate (.60-.79), strong
  (.80-.90), almost perfect (above .90). The same words as Landis & Koch mean
  different ranges here ("moderate" is .60-.79, not .41-.60).
* ``krippendorff`` - Krippendorff's rule for alpha (Content Analysis, 2004/2019):
  reliable (>= .800), tentative conclusions only (.667-.800), unreliable (< .667).

The published tables use two decimals; between two printed ranges a value goes
to the higher band (0.205 is "fair", not "slight"). Values below a scheme's
lowest printed range fall in its lowest band.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from service.agreement.inputs import AgreementInputError
from service.agreement.results import clean


@dataclass(frozen=True)
class Band:
    """One band of a scheme; it starts at ``lower`` (None for the open bottom
    band) and runs up to where the next band starts."""

    name: str
    label: str
    lower: float | None
    lower_inclusive: bool = True


def _scheme(*bands: Band) -> tuple[Band, ...]:
    return bands


BANDS = MappingProxyType(
    {
        "landis_koch": _scheme(
            Band("poor", "Poor", None),
            Band("slight", "Slight", 0.0),
            Band("fair", "Fair", 0.20, lower_inclusive=False),
            Band("moderate", "Moderate", 0.40, lower_inclusive=False),
            Band("substantial", "Substantial", 0.60, lower_inclusive=False),
            Band("almost_perfect", "Almost perfect", 0.80, lower_inclusive=False),
        ),
        "mchugh": _scheme(
            Band("none", "None", None),
            Band("minimal", "Minimal", 0.20, lower_inclusive=False),
            Band("weak", "Weak", 0.40),
            Band("moderate", "Moderate", 0.60),
            Band("strong", "Strong", 0.80),
            Band("almost_perfect", "Almost perfect", 0.90, lower_inclusive=False),
        ),
        "krippendorff": _scheme(
            Band("unreliable", "Unreliable: discard", None),
            Band("tentative", "Tentative conclusions only", 0.667),
            Band("reliable", "Reliable", 0.800),
        ),
    }
)

SCHEMES = tuple(BANDS)


def interpret(value: float | None, *, scheme: str = "landis_koch") -> str | None:
    """The band name for ``value`` under ``scheme``, or None for no value.

    The value is rounded to 9 decimals first so that a coefficient that is
    exactly a threshold in theory (say alpha = 0.8) is not pushed into the
    lower band by floating-point error.
    """
    try:
        bands = BANDS[scheme]
    except KeyError:
        raise AgreementInputError(
            f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}"
        ) from None
    number = clean(value)
    if number is None:
        return None
    rounded = round(number, 9)
    chosen = bands[0]
    for band in bands[1:]:
        assert band.lower is not None
        if rounded > band.lower or (band.lower_inclusive and rounded == band.lower):
            chosen = band
    return chosen.name
