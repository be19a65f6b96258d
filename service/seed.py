"""Built-in data loaded at start (idempotently): the CIVIC frameworks."""

from __future__ import annotations

from sqlmodel import Session

# Each loader must leave existing rows untouched, so loading twice changes nothing.
LOADERS: list = []


def load_builtin(*, session: Session) -> None:
    for loader in LOADERS:
        loader(session=session)
    session.flush()
