"""Imports every table model so that SQLModel.metadata is complete (for create_app and
Alembic). Add new domain packages' models here."""

from service.auth.models import ApiKey, Principal
from service.http.idempotency import IdempotencyRecord

__all__ = ["ApiKey", "IdempotencyRecord", "Principal"]
