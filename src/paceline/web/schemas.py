"""Pydantic models of the JSON API, so ``/openapi.json`` documents every response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(examples=["forbidden"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    """The one error shape of every 4xx and 5xx response."""

    error: ErrorBody


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    checks: dict[str, str]


class GrantOut(BaseModel):
    role: str
    use_case: str | None = None


class MeOut(BaseModel):
    login: str
    kind: str = Field(description="'user' for people and their tokens")
    roles: list[GrantOut]


class ColumnOut(BaseModel):
    name: str
    kind: str
    required: bool
    choices: list[str]
    pseudonymised: bool
    doc: str


class TableOut(BaseModel):
    name: str
    doc: str
    key: list[str]
    columns: list[ColumnOut]


class TablesOut(BaseModel):
    tables: list[TableOut]


class IngestRunOut(BaseModel):
    id: int
    table: str
    files: list[str]
    rows_read: int
    loaded: int
    duplicates: int
    quarantined: int
    quarantine_file: str | None
    reasons: dict[str, int]
    created_at: datetime


class IngestsOut(BaseModel):
    ingests: list[IngestRunOut] = Field(description="Newest first")


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    first_bad: int | None = Field(default=None, description="Only when ok is false")
    reason: str | None = Field(default=None, description="Only when ok is false")


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut] = Field(description="In chain order (ascending seq)")
    next_after: int | None = Field(
        description="Pass as ?after= for the next page; null when this page is the last"
    )


class TableCountOut(BaseModel):
    name: str
    doc: str
    rows: int
