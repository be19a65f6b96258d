"""Engine, per-request session, and the one metadata every table and migration shares."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel
from starlette.concurrency import run_in_threadpool

from service.config import Settings
from service.sqlite_writes import WRITE_QUEUE_TIMEOUT, SQLiteWriteLock, write_lock_file

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
T = TypeVar("T")


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


# Connections each worker process keeps. A request holds one from its first query to
# its commit, across thread-pool hops; ``connection_slots`` admits that many requests
# at a time.
SQLITE_POOL = {"pool_size": 10, "max_overflow": 0}
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 20}
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for another before giving up


def create_db_engine(settings: Settings, *, pooled: bool = True) -> Engine:
    # hide_parameters: bound values (transcript text, key hashes) never appear in
    # exception messages, and so never in logs.
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        pool = SQLITE_POOL if path is not None else {}  # in memory: one shared connection
        engine = create_engine(
            settings.database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT},
            hide_parameters=True,
            **(pool if pooled else {"poolclass": NullPool}),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        SQLiteWriteLock(timeout=WRITE_QUEUE_TIMEOUT, lock_file=write_lock_file(path)).install(
            engine
        )
        return engine
    pool_options = {"pool_pre_ping": True, **POSTGRES_POOL} if pooled else {"poolclass": NullPool}
    return create_engine(settings.database_url, hide_parameters=True, **pool_options)


def connection_slots(settings: Settings) -> asyncio.Semaphore:
    """Admission to the database, taken on the event loop before any thread-pool hop
    that may check out a connection.

    Without it, threads blocked waiting for a free connection can take every thread of
    the pool while the requests holding the connections wait, between hops, for a
    thread to finish in: a deadlock until the pool's timeout. Taken first on the loop,
    a slot guarantees its holder a connection; requests beyond it queue (in order)
    without occupying a thread.
    """
    pool = SQLITE_POOL if settings.is_sqlite else POSTGRES_POOL
    return asyncio.Semaphore(pool["pool_size"] + pool["max_overflow"])


async def run_with_connection(app: Any, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in the thread pool, holding one of ``app``'s connection
    slots meanwhile (for work outside a request's session)."""
    async with app.state.connection_slots:
        return await run_in_threadpool(function, *args)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, class_=Session, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent and rolled
    back on any error.

    The request first takes a connection slot (``connection_slots``). Creating a
    Session does no I/O, so it happens on the event loop. A sync endpoint ends its
    transaction in its own worker thread (``in_one_thread_hop``); what is left to end
    here (an async endpoint's work, a failure in a dependency) goes to the thread pool
    in one hop.
    """
    async with request.app.state.connection_slots:
        session = request.app.state.sessionmaker()
        failed = False
        try:
            yield session
        except BaseException:
            failed = True
            raise
        finally:
            if failed or session.in_transaction():
                await run_in_threadpool(_end_transaction, session, commit=not failed)
            else:
                session.close()  # already committed: nothing left that does I/O


def _end_transaction(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()  # a failure here propagates and becomes the response
    finally:
        session.close()  # rolls back whatever was not committed


def in_one_thread_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a sync endpoint as a coroutine that runs it, and ends the request's
    transaction (commit, or rollback when it raises), in one worker-thread call.

    FastAPI would otherwise hop to the thread pool for the endpoint, again to validate
    its response and again to commit (each hop ~0.2 ms here); and on SQLite the write
    lock an INSERT takes would be held across those hops, stalling every other writer.
    """

    def call_and_end(kwargs: dict[str, Any]) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        try:
            result = endpoint(**kwargs)
        except BaseException:
            for session in sessions:
                session.rollback()
            raise
        for session in sessions:
            if session.in_transaction():
                session.commit()
        return result

    @functools.wraps(endpoint)
    async def run(**kwargs: Any) -> Any:
        return await run_in_threadpool(call_and_end, kwargs)

    return run


def lookup_dependency(function: Callable[..., T]) -> Callable[..., Any]:
    """Wrap a sync dependency that reads a few rows through the request's session
    (the API key, study membership, a framework version) as a coroutine.

    On SQLite it runs on the event loop: an indexed read there costs less than the
    hop to a worker thread (~0.1 vs 0.3 ms, more under load), and in WAL mode readers
    never wait for a writer. (The one write, an API key's last use, once a minute,
    commits at once; it waits only for a turn that another thread is finishing, since
    every transaction ends in the thread call that wrote.) Elsewhere (a network round
    trip) it runs in the thread pool, as FastAPI would run it.
    """

    @functools.wraps(function)
    async def run(**kwargs: Any) -> T:
        session = next(value for value in kwargs.values() if isinstance(value, Session))
        if session.get_bind().dialect.name == "sqlite":
            return function(**kwargs)
        return await run_in_threadpool(functools.partial(function, **kwargs))

    return run


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
