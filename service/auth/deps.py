"""Who is calling: the principal dependency and role requirements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import service as auth_service
from service.auth.models import Role
from service.auth.service import CurrentPrincipal
from service.db import SessionDep, lookup_dependency
from service.errors import Forbidden, Unauthorized

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer civic_…`")


@lookup_dependency
def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> CurrentPrincipal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    principal = auth_service.authenticate(session=session, key=credentials.credentials)
    if principal is None:
        raise Unauthorized("The API key is unknown or revoked.")
    request.state.principal_name = principal.name  # for the access log
    return principal


PrincipalDep = Annotated[CurrentPrincipal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[CurrentPrincipal], CurrentPrincipal]:
    allowed = {*roles, Role.admin}

    async def check(principal: PrincipalDep) -> CurrentPrincipal:
        if principal.role not in allowed:
            names = ", ".join(sorted(role.value for role in allowed))
            raise Forbidden(f"This needs one of the roles: {names}.")
        return principal

    return check


AdminDep = Annotated[CurrentPrincipal, Depends(require_roles(Role.admin))]
