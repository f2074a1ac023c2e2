"""Schemas of inbound webhooks and of the answer to a delivery."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from console_api.api.schemas._common import Moment, Name, Page, Request

ObjectId = Annotated[str, Field(min_length=1, max_length=36)]


class WebhookCreate(Request):
    """A hook that starts (or signals) runs of one workflow definition version."""

    name: Name
    definition_id: ObjectId


class WebhookPublic(BaseModel):
    """A hook without its signing key."""

    id: str
    name: str
    definition_id: str
    url: str
    """Path senders POST to: ``/hooks/<tenant>/<id>``."""
    workflow_id: str
    """The run every delivery starts or signals (``<tenant>-hook-<id>``)."""
    created_at: Moment
    revoked_at: Moment | None


class WebhookCreated(WebhookPublic):
    """A hook with its signing key, returned once by create and by rotate; only the secret store keeps it."""

    secret: str


class WebhooksPublic(Page):
    """The tenant's hooks."""

    data: list[WebhookPublic]


class HookDeliveryPublic(BaseModel):
    """What a signed delivery did."""

    duplicate: bool
    """True when this delivery id was already accepted: nothing new was started or signalled."""
    delivery_id: str
    workflow_id: str
    run_id: str | None
    """The run that received the event (unknown for a duplicate)."""
