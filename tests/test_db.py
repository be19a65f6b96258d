"""Database plumbing under concurrency: the SQLite write queue, and connection slots."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service.config import Settings
from service.db import in_one_thread_hop
from service.errors import Conflict
from service.main import create_app
from service.sqlite_writes import SQLiteWriteLock, write_lock_file


@pytest.fixture
def engine(tmp_path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (v INTEGER)"))
    return engine


@pytest.fixture
def lock(engine: Engine) -> SQLiteWriteLock:
    return SQLiteWriteLock(timeout=5).install(engine)


def test_held_from_the_first_write_to_the_commit(engine, lock):
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM t"))
        assert not lock.held  # reading takes no turn
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert lock.held
        connection.execute(text("INSERT INTO t VALUES (2)"))  # same transaction, same turn
        connection.commit()
        assert not lock.held


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_released_when_the_transaction_ends_without_commit(engine, lock, end):
    connection = engine.connect()
    connection.execute(text("INSERT INTO t VALUES (1)"))
    assert lock.held
    getattr(connection, end)()  # close: returned to the pool mid-transaction
    assert not lock.held
    connection.close()


def test_a_second_writer_waits_for_the_first_to_commit(engine, lock):
    events: list[str] = []
    first = engine.connect()
    first.execute(text("INSERT INTO t VALUES (1)"))

    def second_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (2)"))
            events.append("second wrote")

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(0.2)
    assert thread.is_alive() and events == []  # queued, neither failed nor interleaved
    events.append("first committed")
    first.commit()
    first.close()
    thread.join(5)
    assert events == ["first committed", "second wrote"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_more_concurrent_requests_than_threads_and_connections_all_succeed(database_url, make_key):
    # Each request holds a connection from its first query to its commit, across
    # thread-pool hops. Were threads let to wait for connections, 40 requests on 3
    # threads would deadlock until the pool's timeout, then fail with 503s.
    headers = make_key("researcher")
    app = create_app(Settings(database_url=database_url, log_level="WARNING"))

    async def burst() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 3
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = await asyncio.wait_for(
                asyncio.gather(*(client.get("/v1/me", headers=headers) for _ in range(40))),
                timeout=20,
            )
        return [response.status_code for response in responses]

    assert asyncio.run(burst()) == [200] * 40


def _another_process_could_write(lock_file) -> bool:
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", probe, str(lock_file)]).returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="advisory file locks are POSIX")
def test_worker_processes_take_turns_on_a_file_next_to_the_database(tmp_path):
    database = tmp_path / "queue.db"
    engine = create_engine(f"sqlite:///{database}")
    lock = SQLiteWriteLock(timeout=5, lock_file=write_lock_file(database)).install(engine)
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (v INTEGER)"))
        assert lock.held
        assert not _another_process_could_write(tmp_path / "queue.db.write-lock")
        connection.commit()
    assert _another_process_could_write(tmp_path / "queue.db.write-lock")


def test_an_endpoint_that_fails_after_writing_gives_up_its_turn_in_its_own_thread(engine, lock):
    # Otherwise the turn would be held until get_session's rollback, a later hop that
    # may wait behind writers waiting for this very turn.
    session = Session(engine)

    def endpoint(session: Session) -> None:
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise Conflict("refused after a write")

    with pytest.raises(Conflict):
        asyncio.run(in_one_thread_hop(endpoint)(session=session))
    assert not lock.held and not session.in_transaction()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
