"""The application factory: settings, database, middleware, error handlers, routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service import models  # noqa: F401  (registers every table on the metadata)
from service.agreement.router import router as agreement_router
from service.auth.router import router as keys_router
from service.coding.router import router as coding_router
from service.config import Settings, get_settings
from service.db import connection_slots, create_db_engine, make_sessionmaker
from service.errors import PROBLEM_MEDIA_TYPE, describe
from service.frameworks.router import router as frameworks_router
from service.health.router import router as health_router
from service.http.idempotency import IdempotencyMiddleware
from service.http.middleware import RequestContextMiddleware
from service.http.problems import install_problem_handlers
from service.logs import configure_logging
from service.migrate import head_revision
from service.recommendations.cds_router import router as cds_hooks_router
from service.recommendations.router import router as recommendations_router

DESCRIPTION = """\
An open REST service for the **CIVIC** conceptual framework of social connectedness in
mental health: versioned codebooks, coded interview segments, inter-coder agreement, and
explainable domain-to-intervention recommendations.

* Authenticate with an API key: `Authorization: Bearer <key>`.
* Errors are `application/problem+json` (RFC 9457); every response has `X-Request-ID`.
* Lists use cursor pagination (`limit`, `cursor` → `next_cursor`).
* Single resources carry an `ETag`: send `If-None-Match` to revalidate (304) and
  `If-Match` when updating (412 when stale). POSTs accept `Idempotency-Key`.

Recommendations are decision support for a clinician, not a diagnosis.
"""

PROBLEM_REF = "#/components/schemas/Problem"
# FastAPI matches a request against the routers in this order; their prefixes do not
# overlap, so the order only decides cost: the EHR-facing recommendations come first.
API_ROUTERS: list[APIRouter] = [
    recommendations_router,
    keys_router,
    frameworks_router,
    coding_router,
    agreement_router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What start-up built (routes, schemas, FHIR and pydantic models: some 200,000
        # objects) lives as long as the process. Frozen, it is left out of the
        # collector's full passes, each of which would otherwise stall every request in
        # flight for ~100 ms. Once per process (a test suite starts many apps).
        if gc.get_freeze_count() == 0:
            gc.collect()
            gc.freeze()
        # asyncio primitives belong to one event loop: a new one for each served loop.
        app.state.connection_slots = connection_slots(settings)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="CIVIC service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        license_info={"name": "MIT"},
    )
    engine = create_db_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.connection_slots = connection_slots(settings)
    app.state.migration_head = head_revision()

    install_problem_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "X-Request-ID", "Location", "Idempotent-Replayed"],
        )
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(RequestContextMiddleware)

    app.include_router(health_router)
    app.include_router(cds_hooks_router)
    for router in API_ROUTERS:  # one level of inclusion: route matching stays cheap
        app.include_router(router, prefix="/v1")
    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]
    return app


def _problem_openapi(app: FastAPI):
    """FastAPI documents error models as application/json; ours are problem+json."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if code == "422":  # FastAPI's own validation errors are problems too
                        content.pop("application/json", None)
                        content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": PROBLEM_REF}}
                    elif code[:1] in "45" and "application/json" in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        _document_generic_problems(schema)
        components = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    return openapi


def _document_generic_problems(schema: dict[str, Any]) -> None:
    """Document the problems every route can answer, whether or not it declares them:
    413 and 415 wherever a body is taken (``CivicRoute``), 503 wherever the database
    is used (all but /healthz)."""
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            codes = [413, 415] if "requestBody" in operation else []
            codes += [] if path == "/healthz" else [503]
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(str(code), {"description": describe(code), "content": problem})
            operation["responses"] = dict(sorted(responses.items()))
