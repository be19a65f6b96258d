"""/v1/keys and /v1/me: API keys (admin) and the caller's own identity."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from service.auth import service as auth_service
from service.auth.deps import AdminDep, PrincipalDep
from service.auth.models import ApiKey, Principal
from service.auth.schemas import KeyCreate, KeyCreated, KeyPublic, PrincipalPublic
from service.db import SessionDep
from service.errors import problem_responses
from service.http.conditional import cached_response, check_if_match
from service.http.pagination import Page, PageDep
from service.http.routing import CivicRoute


class KeyRoute(CivicRoute):
    """A created key's secret is shown once and only its hash is stored, so no response
    of these routes is kept for an idempotent replay: a retried POST makes a new key
    (revoke the one whose response was lost)."""

    keeps_replays = False


router = APIRouter(tags=["keys"], route_class=KeyRoute)


def _public(api_key: ApiKey, principal: Principal) -> KeyPublic:
    return KeyPublic(
        id=api_key.id,
        principal=PrincipalPublic.model_validate(principal, from_attributes=True),
        prefix=api_key.prefix,
        created_at=api_key.created_at,
        last_used_at=api_key.last_used_at,
        revoked_at=api_key.revoked_at,
    )


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    operation_id="keys-create",
    summary="Create an API key",
    responses=problem_responses(403, 409, 422),
)
def create_key(body: KeyCreate, session: SessionDep, _: AdminDep) -> KeyCreated:
    """Create a key for the named principal (created with `role` if new). The secret is
    in the response once and never again: only its hash is stored."""
    api_key, plaintext = auth_service.create_key(session=session, name=body.name, role=body.role)
    principal = session.get(Principal, api_key.principal_id)
    return KeyCreated(**_public(api_key, principal).model_dump(), key=plaintext)


@router.get(
    "/keys",
    response_model=Page[KeyPublic],
    operation_id="keys-list",
    summary="List API keys",
    responses=problem_responses(400, 403, 422),
)
def list_keys(session: SessionDep, page: PageDep, _: AdminDep) -> Page[KeyPublic]:
    """Every key with its principal. Secrets are never listed."""
    rows, next_cursor = auth_service.list_keys(session=session, page=page)
    return Page(items=[_public(*row) for row in rows], next_cursor=next_cursor, limit=page.limit)


@router.get(
    "/keys/{key_id}",
    response_model=KeyPublic,
    operation_id="keys-get",
    summary="Get an API key",
    responses={**problem_responses(403, 404), 304: {"description": "Not modified."}},
)
def get_key(key_id: UUID, request: Request, session: SessionDep, _: AdminDep) -> Response:
    """One key (never its secret), with an ETag."""
    return cached_response(request, _public(*auth_service.get_key(session=session, key_id=key_id)))


@router.delete(
    "/keys/{key_id}",
    response_model=KeyPublic,
    operation_id="keys-revoke",
    summary="Revoke an API key",
    responses=problem_responses(403, 404, 412),
)
def revoke_key(key_id: UUID, request: Request, session: SessionDep, _: AdminDep) -> KeyPublic:
    """Revoke at once: the key gets 401 from its next request. Revoking twice is harmless.
    Send `If-Match` to revoke only the version of the key you last read."""
    check_if_match(request, _public(*auth_service.get_key(session=session, key_id=key_id)))
    return _public(*auth_service.revoke_key(session=session, key_id=key_id))


@router.get(
    "/me",
    response_model=PrincipalPublic,
    operation_id="keys-me",
    summary="Who am I",
    responses=problem_responses(),
)
def me(principal: PrincipalDep, session: SessionDep) -> PrincipalPublic:
    """The principal the presented key belongs to."""
    return PrincipalPublic.model_validate(
        session.get(Principal, principal.id), from_attributes=True
    )
