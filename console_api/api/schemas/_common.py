"""Building blocks of every request and response model: names, text, timestamps, the two base classes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from activities.metadata._models import as_utc

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
CONNECTOR_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SECRETISH = re.compile(r"pass|secret|token|credential|private|apikey|api_key", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Moment = Annotated[datetime, AfterValidator(as_utc)]
"""A timestamp in UTC with its offset (SQLite hands them back naive)."""
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="1-63 letters, digits, '-' or '_'")]
ConnectorId = Annotated[str, Field(pattern=CONNECTOR_PATTERN, description="An agent's connector id")]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
ConfigValue = Annotated[str, Field(max_length=1000), AfterValidator(_printable)] | int | bool | None


class Request(BaseModel):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    """Base of list responses."""

    count: int
