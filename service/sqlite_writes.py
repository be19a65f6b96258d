"""The SQLite write queue: writers take turns instead of polling.

SQLite has one writer at a time. A writer that finds the file locked sleeps and polls
(1, 2, 5 ... up to 100 ms), so under concurrent writes an unlucky request waits many
milliseconds, even seconds, while the lock is mostly free. Here writers queue instead:
those of one process on a thread lock, which wakes the next one the moment a
transaction ends; those of several worker processes on an advisory lock on a file
next to the database, checked every 0.1-1 ms. The turn is held from a transaction's
first write to its commit or rollback (every write transaction of the service fits in
one thread call, so it is short). Waiting is bounded: after ``timeout`` SQLite's own
locking decides, as it would without the queue.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, event

try:
    import fcntl
except ImportError:  # not POSIX: the thread lock alone
    fcntl = None  # type: ignore[assignment]

WRITE_QUEUE_TIMEOUT = 1.0  # seconds a writer queues before leaving it to SQLite
_READS = ("SELECT", "PRAGMA")
_FIRST_POLL, _LONGEST_POLL = 0.0001, 0.001


def write_lock_file(database: Path | None) -> Path | None:
    """The file the worker processes of one database take turns on (none in memory)."""
    return None if database is None else database.with_name(database.name + ".write-lock")


class SQLiteWriteLock:
    def __init__(self, *, timeout: float, lock_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        self._lock_file = lock_file if fcntl is not None else None
        self._fd: int | None = None
        self._fd_pid: int | None = None

    @property
    def held(self) -> bool:
        return self._lock.locked()

    def install(self, engine: Engine) -> SQLiteWriteLock:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "commit", self._release)
        event.listen(engine, "rollback", self._release)
        event.listen(engine.pool, "checkin", self._release_record)
        return self

    def _before_execute(self, conn, cursor, statement: str, *_args) -> None:
        info = conn.info
        if "sqlite_write_turn" in info or statement.lstrip()[:6].upper() in _READS:
            return
        deadline = time.monotonic() + self._timeout
        if not self._lock.acquire(timeout=self._timeout):
            return
        if self._lock_file is not None and not self._lock_other_processes(deadline):
            self._lock.release()
            return
        info["sqlite_write_turn"] = True

    def _lock_other_processes(self, deadline: float) -> bool:
        fd = self._file()
        pause = _FIRST_POLL
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_POLL)

    def _file(self) -> int:
        # One descriptor per process: a descriptor inherited across fork would share
        # the other process's lock instead of excluding it.
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    def _release(self, conn) -> None:
        self._end_turn(conn.info)

    def _release_record(self, _dbapi_connection, record) -> None:
        self._end_turn(record.info)

    def _end_turn(self, info: dict) -> None:
        if info.pop("sqlite_write_turn", False):
            if self._lock_file is not None:
                fcntl.flock(self._file(), fcntl.LOCK_UN)
            self._lock.release()
