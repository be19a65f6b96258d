"""Built-in data loaded at start (idempotently): the CIVIC frameworks."""

from __future__ import annotations

from sqlmodel import Session

from service.frameworks.store import load_builtin_frameworks

# Each loader must leave existing rows untouched, so loading twice changes nothing.
LOADERS = [load_builtin_frameworks]


def load_builtin(*, session: Session) -> None:
    for loader in LOADERS:
        loader(session=session)
    session.flush()
