"""Idempotency keys: a retried POST returns its first successful response.

A key is scoped to the caller (a hash of its credentials), so two clients never see
each other's responses. A claim is stored before the request runs; a concurrent retry
while it runs gets 409, and a failure releases the claim so the client may retry.
It is an ASGI middleware so that the response is recorded only after the request's
own transaction has committed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from fastapi import Response
from sqlalchemy import LargeBinary, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import JSON, Column, Field, Session, SQLModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.db import UTCDateTime, utcnow
from service.errors import Conflict, PayloadTooLarge, ServiceError, Unprocessable

REPLAYED_HEADERS = ("content-type", "location", "etag")
MAX_KEY_LENGTH = 200
TTL = timedelta(hours=24)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("caller_hash", "key"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    caller_hash: str = Field(max_length=64)
    key: str = Field(max_length=MAX_KEY_LENGTH)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None  # None while the first request is still running
    response_headers: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


@dataclass
class Claim:
    record_id: UUID | None = None
    replay: Response | None = None


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, make_session: sessionmaker[Session]) -> None:
        self._make_session = make_session

    def claim(self, *, key: str, authorization: str, method: str, path: str, body: bytes) -> Claim:
        if len(key) > MAX_KEY_LENGTH:
            raise Unprocessable(f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.")
        caller = _sha256(authorization.encode())
        request_hash = _sha256(method.encode(), path.encode(), body)
        with self._make_session() as session:
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - TTL)
            )
            record = IdempotencyRecord(caller_hash=caller, key=key, request_hash=request_hash)
            session.add(record)
            try:
                session.commit()
                return Claim(record_id=record.id)
            except IntegrityError:
                session.rollback()
            existing = session.scalars(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.caller_hash == caller, IdempotencyRecord.key == key
                )
            ).one()
        if existing.request_hash != request_hash:
            raise Unprocessable(
                "This Idempotency-Key was already used with a different request; "
                "use a new key for a new request."
            )
        if existing.status_code is None:
            raise Conflict("A request with this Idempotency-Key is still being processed.")
        headers = dict(existing.response_headers or {})
        headers["Idempotent-Replayed"] = "true"
        return Claim(
            replay=Response(
                content=existing.response_body,
                status_code=existing.status_code,
                headers=headers,
            )
        )

    def record(self, claim: Claim, status: int, headers: Headers, body: bytes) -> None:
        with self._make_session() as session:
            record = session.get(IdempotencyRecord, claim.record_id)
            if record is None:
                return
            if 200 <= status < 300:
                record.status_code = status
                record.response_body = body
                record.response_headers = {
                    name: value for name, value in headers.items() if name in REPLAYED_HEADERS
                }
            else:  # only successes are replayed; anything else may be retried
                session.delete(record)
            session.commit()

    def release(self, claim: Claim) -> None:
        with self._make_session() as session:
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.id == claim.record_id)
            )
            session.commit()


class IdempotencyMiddleware:
    """Applies to POSTs under /v1 that carry an ``Idempotency-Key`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        key = headers.get("idempotency-key") if headers else None
        if not key or scope["method"] != "POST" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        from service.http.problems import problem_response  # avoids an import cycle

        fastapi_app = scope["app"]
        try:
            body = await _read_all(receive, fastapi_app.state.settings.max_upload_bytes)
            store = IdempotencyStore(fastapi_app.state.sessionmaker)
            claim = await run_in_threadpool(
                store.claim,
                key=key,
                authorization=headers.get("authorization", ""),
                method="POST",
                path=scope["path"],
                body=body,
            )
        except ServiceError as exc:
            response = problem_response(
                None,
                exc.status,
                detail=exc.detail,
                title=exc.title,
                slug=exc.slug,
                instance=scope["path"],
                request_id=scope.get("state", {}).get("request_id"),
            )
            await response(scope, receive, send)
            return
        if claim.replay is not None:
            await claim.replay(scope, receive, send)
            return

        replayed = False

        async def replay_body() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        status, response_headers, chunks = 500, Headers(), []

        async def capture(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = Headers(raw=message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await run_in_threadpool(store.release, claim)
            raise
        await run_in_threadpool(store.record, claim, status, response_headers, b"".join(chunks))


async def _read_all(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
