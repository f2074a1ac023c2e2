"""Schemas of audit."""

from __future__ import annotations

from activities.metadata import AuditRecord
from console_api.api.schemas._common import (
    Page,
)


class AuditEventsPublic(Page):
    """Audit events in seq order."""

    data: list[AuditRecord]
