"""No route can forget authentication or study membership: checked on the route table.

Every route outside the public ones depends on the API-key principal, and every route
under /v1/studies/{study_id} on the central study-access dependency (which answers 404
to outsiders). And no route pays thread-pool hops it does not need: at most one, for
the endpoint and its commit.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from service.auth.deps import current_principal
from service.coding.access import study_access
from service.config import Settings
from service.main import create_app

PUBLIC = {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


def _routes(routes, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if hasattr(route, "original_router"):  # an included router, kept nested
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


@pytest.fixture(scope="module")
def api_routes() -> list[tuple[str, APIRoute]]:
    routes = list(_routes(create_app(Settings(database_url="sqlite://")).routes))
    assert len(routes) > 80  # the walk found the nested routers
    return routes


def test_every_non_public_route_requires_an_api_key(api_routes):
    unguarded = [
        f"{sorted(route.methods)} {path}"
        for path, route in api_routes
        if path not in PUBLIC and current_principal not in set(_calls(route.dependant))
    ]
    assert unguarded == []


def test_every_study_route_checks_membership(api_routes):
    study_routes = [(p, r) for p, r in api_routes if p.startswith("/v1/studies/{study_id}")]
    assert len(study_routes) > 40
    unguarded = [
        f"{sorted(route.methods)} {path}"
        for path, route in study_routes
        if study_access not in set(_calls(route.dependant))
    ]
    assert unguarded == []


def test_no_dependency_costs_a_thread_hop_of_its_own(api_routes):
    # FastAPI runs a sync dependency in the thread pool: one hop each. Those that do no
    # I/O are async; those that read a few rows are wrapped by
    # service.db.lookup_dependency (on the event loop on SQLite, one hop elsewhere).
    sync = {
        f"{call.__module__}.{call.__qualname__}"
        for _, route in api_routes
        for call in _calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
        and not inspect.isasyncgenfunction(call)
        and not isinstance(call, HTTPBearer)
    }
    assert sync == set()


def test_every_endpoint_runs_in_at_most_one_thread_hop(api_routes):
    # CivicRoute wraps sync endpoints so that the endpoint, its response validation and
    # the commit share one worker-thread call (service.db.in_one_thread_hop).
    sync = [path for path, route in api_routes if not inspect.iscoroutinefunction(route.endpoint)]
    assert sync == []
