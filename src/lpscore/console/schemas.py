"""Request and response shapes of the console API, for validation and the OpenAPI spec."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from lpscore.console.auth import MIN_PASSWORD
from lpscore.console.db import Role

__all__ = ["ERRORS", "AuditOut", "DecisionsPage", "LimitParam", "LoginIn", "OffsetParam", "Page",
           "PasswordIn", "PreviewIn", "RollbackIn", "SessionOut", "UserIn", "UserOut",
           "UserPatch", "VersionOut", "WeightsIn"]

T = TypeVar("T")

Name = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                        pattern=r"^[A-Za-z0-9_.@-]+$")]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=1000)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
NewPassword = Annotated[str, StringConstraints(min_length=MIN_PASSWORD, max_length=1024)]
"""A password being set: the rule of ``auth.hash_password`` (which also refuses spaces
only), so that the 422 says it rather than 'at least 1 character'."""
Weight = Annotated[float, Field(ge=0.0, allow_inf_nan=False, strict=True)]
"""A KPI's weight: a JSON number (strict: "1" or true are no weight)."""

LimitParam = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
OffsetParam = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")]


class Problem(BaseModel):
    detail: str = Field(description="What is wrong and what to do.")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Not logged in: POST /api/login first."},
    403: {"model": Problem, "description": "Missing or wrong X-CSRF-Token, or a role too "
          "low for this action."},
}


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items``, and ``total`` items matching the filters."""

    items: list[T]
    total: int
    limit: int
    offset: int


class DecisionsPage(Page[dict[str, Any]]):
    """A page of routing decisions (``decision_record`` objects of the decision journal)."""

    malformed: int = Field(description="Lines of DIR/decisions.jsonl skipped because they "
                           "are not a JSON object (each is logged once by the server).")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Name
    password: Password


class SessionOut(BaseModel):
    user: str
    role: Role
    csrf: str = Field(description="Send it in the X-CSRF-Token header with every change.")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Name
    password: NewPassword
    role: Role


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    password: NewPassword | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> UserPatch:
        if self.role is None and self.password is None:   # an empty change, audited
            raise ValueError("give role, password or both")
        return self


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: NewPassword


class UserOut(BaseModel):
    username: str
    role: Role
    created_ns: int


class WeightsIn(BaseModel):
    """A new version of a profile: its weights (non-negative, known KPIs, summing to 1)."""

    model_config = ConfigDict(extra="forbid")
    weights: dict[str, Weight] = Field(min_length=1, max_length=200,
                                       examples=[{"fill_rate": 0.5, "pi_bps": 0.5}])
    comment: Comment = Field(description="Why: kept in the audit log.")


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weights: dict[str, Weight] = Field(min_length=1, max_length=200)
    context: str = Field(default="*", max_length=500,
                         description="symbol=AMZN,size_bucket=... or * (LP level).")


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31)
    comment: str = Field(default="", max_length=1000)


class VersionOut(BaseModel):
    profile: str
    version: int
    weights: dict[str, float]
    author: str
    comment: str
    created_ns: int


class AuditOut(BaseModel):
    id: int
    ts_ns: int
    user: str
    action: str
    target: str
    old: Any
    new: Any
    comment: str
