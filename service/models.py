"""Imports every table model so that SQLModel.metadata is complete (for create_app and
Alembic). Add new domain packages' models here."""

from service.agreement.models import Adjudication, AgreementReport
from service.audit.models import AuditEvent
from service.auth.models import ApiKey, Principal
from service.coding.models import (
    Coder,
    CodingPass,
    Document,
    Participant,
    RespondentValidation,
    Segment,
    Study,
    StudyMember,
)
from service.frameworks.models import Component, Framework, TargetLink, Theme
from service.http.idempotency import IdempotencyRecord

__all__ = [
    "Adjudication",
    "AgreementReport",
    "ApiKey",
    "AuditEvent",
    "Coder",
    "CodingPass",
    "Component",
    "Document",
    "Framework",
    "IdempotencyRecord",
    "Participant",
    "Principal",
    "RespondentValidation",
    "Segment",
    "Study",
    "StudyMember",
    "TargetLink",
    "Theme",
]
