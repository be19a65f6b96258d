"""The route class of every recommendation route: its responses are health data.

The idempotency middleware keeps the response of a POST sent with ``Idempotency-Key``
for a day, so that a retry can be answered from it. A plan repeats the person's needs,
barriers and preferences, and assessments are never stored, so these routes refuse the
header (422, before anything runs) and do not document it. Nothing is lost: a
recommendation changes nothing, so a plain retry is already safe.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from service.errors import Unprocessable
from service.http.routing import IDEMPOTENCY_HEADER_DOC, CivicRoute


class HealthDataRoute(CivicRoute):
    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.openapi_extra and "parameters" in self.openapi_extra:
            self.openapi_extra["parameters"] = [
                p for p in self.openapi_extra["parameters"] if p is not IDEMPOTENCY_HEADER_DOC
            ]

    def get_route_handler(self):  # type: ignore[override]
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            if request.method == "POST" and "idempotency-key" in request.headers:
                raise Unprocessable(
                    "Idempotency-Key is not accepted here: a recommendation changes nothing, "
                    "so retry without it (a stored replay would keep health data).",
                    errors=[
                        {
                            "loc": ["header", "Idempotency-Key"],
                            "msg": "not accepted on recommendation routes",
                            "type": "not_accepted",
                        }
                    ],
                )
            return await handler(request)

        return route_handler
