"""Idempotency keys: a retried POST returns its first successful response.

A key is scoped to the caller (a hash of its credentials), so two clients never see
each other's responses, and the credentials are checked before anything is claimed or
replayed: a revoked key gets 401, never a stored response. A claim is stored before
the request runs; a concurrent retry while it runs gets 409, and a failure releases
the claim so the client may retry. Records are kept for CIVIC_IDEMPOTENCY_TTL_HOURS.
The route claims the key (it knows whether its responses may be kept); the ASGI
middleware records the response only after the request's own transaction committed.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from fastapi import Request, Response
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import LargeBinary, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import JSON, Column, Field, Session, SQLModel
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth.models import ApiKey
from service.auth.service import hash_key
from service.db import UTCDateTime, run_with_connection, utcnow
from service.errors import Conflict, Unauthorized, Unprocessable

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
    # The study a replay belongs to (from its path), so that deleting study material
    # or removing a member also forgets the replays that may quote it.
    study_id: UUID | None = Field(default=None, index=True)
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


def _check_credentials(session: Session, authorization: str) -> None:
    """401 unless the header carries a key that is valid now (as ``current_principal``
    reads it): the route's own dependencies run only after a claim, and not at all
    for a replay, so this is what makes revocation immediate for retries too."""
    scheme, key = get_authorization_scheme_param(authorization)
    if not (scheme and key) or scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    active = session.scalar(
        select(ApiKey.id).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )
    if active is None:
        raise Unauthorized("The API key is unknown or revoked.")


_STUDY_PATH = re.compile(r"^/v1/studies/([0-9a-fA-F-]{36})(?:/|$)")


def _study_of(path: str) -> UUID | None:
    match = _STUDY_PATH.match(path)
    try:
        return UUID(match.group(1)) if match else None
    except ValueError:
        return None


def forget_study_replays(*, session: Session, study_id: UUID) -> None:
    """Drop the stored replays of a study's routes (flushed with the caller's
    transaction): they can quote transcripts, attributes or coded passages, and must
    not outlive the deletion of that material or the departure of a member."""
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.study_id == study_id))


class IdempotencyStore:
    def __init__(self, make_session: sessionmaker[Session], ttl: timedelta = TTL) -> None:
        self._make_session = make_session
        self._ttl = ttl

    def claim(
        self, *, key: str, authorization: str, method: str, path: str, body: bytes, query: str = ""
    ) -> Claim:
        caller = _sha256(authorization.encode())
        # The query string is part of the request (e.g. the slug of an imported codebook).
        request_hash = _sha256(method.encode(), path.encode(), query.encode(), body)
        with self._make_session() as session:
            _check_credentials(session, authorization)
            if len(key) > MAX_KEY_LENGTH:
                raise Unprocessable(f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.")
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - self._ttl)
            )
            record = IdempotencyRecord(
                caller_hash=caller, key=key, request_hash=request_hash, study_id=_study_of(path)
            )
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


async def claim_for_request(request: Request, key: str) -> Response | None:
    """Claim the key for this request (called by the route, which knows the body and
    that it may keep a replay). Returns the stored response of a repeated request."""
    hours = request.app.state.settings.idempotency_ttl_hours
    store = IdempotencyStore(request.app.state.sessionmaker, ttl=timedelta(hours=hours))
    claim = await run_with_connection(
        request.app,
        functools.partial(
            store.claim,
            key=key,
            authorization=request.headers.get("authorization", ""),
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            body=await request.body(),
        ),
    )
    if claim.replay is not None:
        return claim.replay
    request.state.idempotency_claim = claim
    return None


class IdempotencyMiddleware:
    """Records the response of a request whose route claimed an idempotency key, after
    the route's own transaction has committed; releases the claim on failure."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        status, response_headers, chunks = 500, Headers(), []

        async def capture(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = Headers(raw=message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        def claim() -> Claim | None:
            return scope.get("state", {}).get("idempotency_claim")

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if (pending := claim()) is not None:
                await run_with_connection(scope["app"], _store(scope).release, pending)
            raise
        if (pending := claim()) is not None:
            body = b"".join(chunks)
            await run_with_connection(
                scope["app"], _store(scope).record, pending, status, response_headers, body
            )


def _store(scope: Scope) -> IdempotencyStore:
    return IdempotencyStore(scope["app"].state.sessionmaker)
