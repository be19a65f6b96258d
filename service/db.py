"""Engine, per-request session, and the one metadata every table and migration shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel
from starlette.concurrency import run_in_threadpool

from service.config import Settings

# Set before the first table is declared, so every constraint has a predictable name
# that migrations can refer to on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on both engines (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        # TypeDecorator reports ``object``; cursor pagination needs the real type to
        # decode a timestamp from a cursor.
        return datetime

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def create_db_engine(settings: Settings, *, pooled: bool = True) -> Engine:
    # hide_parameters: bound values (transcript text, key hashes) never appear in
    # exception messages, and so never in logs.
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.database_url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **({} if pooled else {"poolclass": NullPool}),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    pool_options = (
        {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
        if pooled
        else {"poolclass": NullPool}
    )
    return create_engine(settings.database_url, hide_parameters=True, **pool_options)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, class_=Session, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: services flush, this commits once before the
    response is sent (the dependency has function scope), and rolls back on any error.

    Creating a Session does no I/O, so it happens on the event loop; only the commit
    and close, which do, go to the thread pool: in one hop.
    """
    session = request.app.state.sessionmaker()
    failed = False
    try:
        yield session
    except BaseException:
        failed = True
        raise
    finally:
        await run_in_threadpool(_end_transaction, session, commit=not failed)


def _end_transaction(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()  # a failure here propagates and becomes the response
    finally:
        session.close()  # rolls back whatever was not committed


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
