"""Schemas of workflow definitions: the sync patterns' input, or a Mode 2 flow naming registered APIs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from console_api.api.schemas._common import (
    Moment,
    Name,
    Page,
    Request,
)
from workflows.api_types import ApiToApiInput, DbToApiInput
from workflows.bidi_types import BidiInput, ConflictPolicy, SideName
from workflows.fan_types import FanInInput, FanOutInput
from workflows.routing import RoutePlan
from workflows.sync_types import SyncInput, SyncState

Pattern = Literal["3.1.1", "3.3.1", "3.3.2", "3.1.2", "3.2.1", "3.2.2", "3.3.3", "3.4.1", "3.4.2", "3.4.3"]


class ApiRef(Request):
    """A registered API as a definition names it.

    Without ``version`` the API's current version is written into the saved definition version,
    so a saved definition never floats: a later refresh does not change what it runs.
    """

    api: Name
    version: Annotated[int, Field(ge=1, le=1_000_000)] | None = None


class DbToApiDefinition(DbToApiInput):
    """Pattern 3.1.2 as saved: ``api`` names a registered local API (the binding is made per run)."""

    api: ApiRef  # type: ignore[assignment]


class ApiToApiDefinition(ApiToApiInput):
    """Pattern 3.3.3 as saved: ``source`` a registered local API, ``destination`` an internet one."""

    source: ApiRef  # type: ignore[assignment]
    destination: ApiRef  # type: ignore[assignment]


class BidiDefinition(BidiInput):
    """Pattern 3.4.3 as saved: the workflow's input, its policy and agent checks made per field.

    The workflow checks the same rules on the whole input; here each refusal names its field
    (``policy``, ``priority``, ``agent``) so a console form can point at it.
    """

    policy: ConflictPolicy = Field(default=ConflictPolicy.LAST_WRITER_WINS, validate_default=True)
    priority: SideName | None = Field(default=None, validate_default=True)

    @field_validator("policy")
    @classmethod
    def _policy_fits_detection(cls, value: ConflictPolicy, info: ValidationInfo) -> ConflictPolicy:
        if value is ConflictPolicy.LAST_WRITER_WINS and "change_column" in info.data:
            if info.data["change_column"] is None:
                raise ValueError(
                    "policy last_writer_wins compares change_column values: name the change_column, "
                    "or use source_priority or manual with change detection by trigger"
                )
        return value

    @field_validator("priority")
    @classmethod
    def _priority_fits_policy(cls, value: SideName | None, info: ValidationInfo) -> SideName | None:
        policy = info.data.get("policy")
        if policy is ConflictPolicy.SOURCE_PRIORITY and value is None:
            raise ValueError("policy source_priority needs `priority`: left or right")
        if policy is not None and policy is not ConflictPolicy.SOURCE_PRIORITY and value is not None:
            raise ValueError(f"`priority` applies to policy source_priority only, not {policy.value}")
        return value

    @model_validator(mode="after")
    def _priority_named(self) -> BidiDefinition:  # replaces BidiInput's whole-input check
        return self


DefinitionInput = (
    SyncInput | DbToApiDefinition | ApiToApiDefinition | FanOutInput | FanInInput | BidiDefinition
)
_INPUT_OF: dict[str, type[BaseModel]] = {
    "3.1.2": DbToApiDefinition,
    "3.2.2": DbToApiDefinition,
    "3.2.1": ApiToApiDefinition,
    "3.3.3": ApiToApiDefinition,
    "3.4.1": FanOutInput,
    "3.4.2": FanInInput,
    "3.4.3": BidiDefinition,
}


class WorkflowDefinitionCreate(Request):
    """A new version of a named definition: a pattern and its input (tenant and queues are derived).

    Patterns 3.1.1, 3.3.1 and 3.3.2 take a sync input (only 3.3.1's may have ``derived`` tables);
    3.1.2, 3.2.1, 3.2.2 and 3.3.3 an input whose API fields are :class:`ApiRef` objects; 3.4.1, 3.4.2
    and 3.4.3 the fan-out, fan-in and bidirectional workflows' own inputs.
    """

    name: Name
    pattern: Pattern
    input: DefinitionInput

    @field_validator("input", mode="wrap")
    @classmethod
    def _as_pattern_input(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> DefinitionInput:
        """Validate against the pattern's own model, so an error names the field, not every union member."""
        want = _INPUT_OF.get(info.data.get("pattern", ""))
        if want is None or isinstance(value, want):
            return handler(value)
        return want.model_validate(value)  # type: ignore[return-value]

    @field_validator("input")
    @classmethod
    def _no_state(cls, value: DefinitionInput) -> DefinitionInput:
        if isinstance(value, SyncInput) and value.state != SyncState():
            raise ValueError("`state` is kept by the workflow itself and cannot be set in a definition")
        return value

    @model_validator(mode="after")
    def _input_fits_pattern(self) -> WorkflowDefinitionCreate:
        want = _INPUT_OF.get(self.pattern, SyncInput)
        if not isinstance(self.input, want):
            raise ValueError(f"pattern {self.pattern} takes a {want.__name__} input")
        if isinstance(self.input, SyncInput) and self.input.derived and self.pattern != "3.3.1":
            # Derived tables are cloud tables built by the cloud transform engine: only 3.3.1's
            # destination is in the cloud, and 3.1.1's data never leaves the premises.
            raise ValueError(f"`derived` tables run in pattern 3.3.1 only, not {self.pattern}")
        return self


class WorkflowDefinitionPublic(BaseModel):
    """One immutable version of a definition and the plan it was validated against."""

    id: str
    name: str
    version: int
    pattern: str
    input: dict[str, Any]
    content_hash: str
    plan: RoutePlan
    created_at: Moment


class WorkflowDefinitionsPublic(Page):
    """Definition versions, newest first."""

    data: list[WorkflowDefinitionPublic]
