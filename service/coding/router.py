"""Every /v1/studies route: one small module per resource in ``service.coding.routes``."""

from __future__ import annotations

from fastapi import APIRouter

from service.coding.routes import (
    coders,
    documents,
    members,
    participants,
    passes,
    segments,
    studies,
)

router = APIRouter()
for routes in [studies, members, participants, documents, coders, passes, segments]:
    router.include_router(routes.router)
