"""The route class of every recommendation route: its responses are health data.

A plan repeats the person's needs, barriers and preferences, and assessments are never
stored, so these routes keep no idempotency replay. Nothing is lost: a recommendation
changes nothing but an audit line, so a retry (with or without Idempotency-Key) simply
runs again and gives the same answer byte for byte.
"""

from __future__ import annotations

from service.http.routing import CivicRoute


class HealthDataRoute(CivicRoute):
    keeps_replays = False
