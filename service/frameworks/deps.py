"""Dependencies and response helpers shared by the framework routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.auth.deps import require_roles
from service.auth.models import Role
from service.auth.service import CurrentPrincipal
from service.db import SessionDep, lookup_dependency
from service.frameworks import service as frameworks_service
from service.frameworks.models import Framework
from service.http.conditional import etag_of

VERSION_PATH = "/frameworks/{slug}/versions/{version}"

WriterDep = Annotated[CurrentPrincipal, Depends(require_roles(Role.researcher))]

SlugPath = Annotated[str, Path(max_length=64, description="The framework, e.g. `civic`.")]
VersionPath = Annotated[str, Path(max_length=32, description="The version string, e.g. `2`.")]


@lookup_dependency
def version_to_read(slug: SlugPath, version: VersionPath, session: SessionDep) -> Framework:
    return frameworks_service.get_version(session=session, slug=slug, version=version)


@lookup_dependency
def version_to_edit(slug: SlugPath, version: VersionPath, session: SessionDep) -> Framework:
    return frameworks_service.get_version(
        session=session, slug=slug, version=version, for_update=True
    )


# Declare these after the principal in a route's parameters, so a caller without a
# valid key gets 401 before learning whether a version exists.
VersionDep = Annotated[Framework, Depends(version_to_read)]
EditableVersionDep = Annotated[Framework, Depends(version_to_edit)]


async def raw_body(request: Request) -> bytes:
    """The request body as bytes (``CivicRoute`` has already read and size-checked it)."""
    return await request.body()


RawBodyDep = Annotated[bytes, Depends(raw_body)]


def tagged(resource: BaseModel, *, status_code: int = 200, location: str | None = None) -> Response:
    """The resource as JSON with its ETag, so a client can send the next edit with
    `If-Match` without reading it again."""
    headers = {"ETag": etag_of(resource)}
    if location:
        headers["Location"] = location
    return JSONResponse(jsonable_encoder(resource), status_code=status_code, headers=headers)
