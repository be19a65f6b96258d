"""The 422 that names one invalid field, shared by the coding services."""

from __future__ import annotations

from service.errors import Unprocessable


def invalid(loc: list[str | int], msg: str, kind: str = "value_error") -> Unprocessable:
    """A 422 about one field: ``msg`` goes in ``errors`` and, as a sentence, in ``detail``."""
    detail = msg[0].upper() + msg[1:] + "."
    return Unprocessable(detail, errors=[{"loc": loc, "msg": msg, "type": kind}])
