"""Creating, checking and revoking API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from service.auth.models import ApiKey, Principal, Role
from service.db import utcnow
from service.errors import Conflict, NotFound
from service.http.pagination import PageParams, paginate

KEY_PREFIX = "civic_"
# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CurrentPrincipal:
    id: UUID
    name: str
    role: Role
    key_id: UUID

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def get_or_create_principal(*, session: Session, name: str, role: Role) -> Principal:
    principal = session.scalars(select(Principal).where(Principal.name == name)).first()
    if principal is None:
        principal = Principal(name=name, role=role.value)
        session.add(principal)
        session.flush()
    elif principal.role != role.value:
        raise Conflict(
            f"Principal {name!r} exists with role {principal.role!r}, not {role.value!r}."
        )
    return principal


def create_key(
    *, session: Session, name: str, role: Role, key: str | None = None
) -> tuple[ApiKey, str]:
    """Store a new key for the named principal; returns it and the plaintext (shown once)."""
    principal = get_or_create_principal(session=session, name=name, role=role)
    plaintext = key or generate_key()
    api_key = ApiKey(principal_id=principal.id, key_hash=hash_key(plaintext), prefix=plaintext[:12])
    session.add(api_key)
    session.flush()
    return api_key, plaintext


# Built once: this runs on every request, and building the statement costs more than
# running it.
_ACTIVE_KEY = (
    select(ApiKey.id, ApiKey.last_used_at, Principal.id, Principal.name, Principal.role)
    .join(Principal, Principal.id == ApiKey.principal_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


def authenticate(*, session: Session, key: str) -> CurrentPrincipal | None:
    # Plain columns and a conditional UPDATE, no ORM objects.
    row = session.execute(_ACTIVE_KEY, {"key_hash": hash_key(key)}).first()
    if row is None:
        return None
    key_id, last_used_at, principal_id, name, role = row
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
        # Committed at once, in this thread: a write lock held until the request's own
        # commit, in another thread-pool hop, would stall every other writer meanwhile.
        session.commit()
    return CurrentPrincipal(id=principal_id, name=name, role=Role(role), key_id=key_id)


def list_keys(
    *, session: Session, page: PageParams
) -> tuple[list[tuple[ApiKey, Principal]], str | None]:
    keys, next_cursor = paginate(session, select(ApiKey), order_by=[ApiKey.id], params=page)
    principals = {
        p.id: p
        for p in session.scalars(
            select(Principal).where(Principal.id.in_({k.principal_id for k in keys}))
        )
    }
    return [(key, principals[key.principal_id]) for key in keys], next_cursor


def get_key(*, session: Session, key_id: UUID) -> tuple[ApiKey, Principal]:
    row = session.execute(
        select(ApiKey, Principal)
        .join(Principal, Principal.id == ApiKey.principal_id)
        .where(ApiKey.id == key_id)
    ).first()
    if row is None:
        raise NotFound(f"No API key {key_id}.")
    return row[0], row[1]


def revoke_key(*, session: Session, key_id: UUID) -> tuple[ApiKey, Principal]:
    api_key, principal = get_key(session=session, key_id=key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        session.flush()
    return api_key, principal


def ensure_admin_key(*, session: Session, key: str) -> bool:
    """Make a configured bootstrap key valid; True when it had to be stored."""
    if session.scalars(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key))).first():
        return False
    create_key(session=session, name="bootstrap-admin", role=Role.admin, key=key)
    return True


def any_key_exists(*, session: Session) -> bool:
    return session.scalars(select(ApiKey.id).limit(1)).first() is not None
