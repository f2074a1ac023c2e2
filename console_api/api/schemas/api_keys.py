"""Schemas of API keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from console_api.api.keys import Role
from console_api.api.schemas._common import (
    Moment,
    Page,
    Request,
    Text,
)


class ApiKeyCreate(Request):
    """A new key of the caller's tenant."""

    name: Text
    role: Role
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyPublic(BaseModel):
    """A key as listed: never its secret or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: Role
    prefix: str
    created_at: Moment
    rotated_at: Moment | None
    expires_at: Moment | None
    revoked_at: Moment | None


class ApiKeyCreated(ApiKeyPublic):
    """A key just created or rotated: ``key`` is shown this once and cannot be retrieved again."""

    key: str


class ApiKeysPublic(Page):
    """The tenant's keys."""

    data: list[ApiKeyPublic]
