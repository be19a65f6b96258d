"""/healthz and /readyz, for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.db import run_with_connection
from service.errors import Problem, ServiceUnavailable
from service.http.routing import CivicRoute

router = APIRouter(tags=["health"], route_class=CivicRoute)


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    schema_revision: str


@router.get("/healthz", response_model=Health, operation_id="health-live", summary="Liveness")
async def healthz() -> Health:
    """The process is up. Touches nothing else."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="health-ready",
    summary="Readiness",
    responses={503: {"model": Problem, "description": "Database unreachable or not migrated."}},
)
async def readyz(request: Request) -> Readiness:
    """Ready to serve: the database answers and its schema is at the migration head."""
    engine = request.app.state.engine
    expected = request.app.state.migration_head

    def current_revision() -> str | None:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    try:
        revision = await run_with_connection(request.app, current_revision)
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("The database is unreachable or not migrated.") from exc
    if revision != expected:
        raise ServiceUnavailable(
            f"The database schema is at {revision!r}; this build expects {expected!r}. "
            "Run `civic db upgrade`."
        )
    return Readiness(status="ok", database=engine.dialect.name, schema_revision=revision)
