"""Audit log downloads: the API's export endpoint and the viewer's filtered download.

Both render through the library's exporter (OCSF JSON Lines, CEF, RFC 5424), so a
download carries exactly what a SIEM export would, pseudonymised the same way.
Neither moves an export cursor: cursors belong to ``paceline audit export``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from paceline.domain.roles import Action
from paceline.services.access import Principal
from paceline.storage.audit_export_repo import EntryFilter
from paceline.web.api import ERRORS
from paceline.web.auth import api_principal, page_principal, workspace

router = APIRouter()
EXPORT_FORMATS = ("ocsf", "cef", "syslog")
MEDIA = {"ocsf": "application/x-ndjson", "cef": "text/plain", "syslog": "text/plain"}
SUFFIX = {"ocsf": "jsonl", "cef": "cef", "syslog": "log"}
DOWNLOAD_LIMIT = 10_000
Format = Literal["ocsf", "cef", "syslog"]


def audit_filter(request: Request) -> EntryFilter:
    """The viewer's filter from the query string (empty fields mean no filter)."""
    params = request.query_params

    def value(name: str) -> str | None:
        text = params.get(name, "").strip()
        return text[:200] or None

    return EntryFilter(
        actor=value("actor"),
        action=value("action"),
        entity=value("entity"),
        since=value("since"),
        until=value("until"),
    )


def filter_query(where: EntryFilter) -> str:
    """The query string that reproduces *where* (for the download links)."""
    fields = {
        "actor": where.actor,
        "action": where.action,
        "entity": where.entity,
        "since": where.since,
        "until": where.until,
    }
    return urlencode({k: v for k, v in fields.items() if v})


def _text(lines: list[str], form: str, filename: str) -> Response:
    body = "".join(line + "\n" for line in lines)
    headers = {"Content-Disposition": f'attachment; filename="{filename}.{SUFFIX[form]}"'}
    return Response(body, media_type=MEDIA[form], headers=headers)


@router.get(
    "/api/v1/audit/export",
    tags=["api"],
    responses={
        **ERRORS,
        200: {"description": "One event per line", "content": {"application/x-ndjson": {}, "text/plain": {}}},
    },
    summary="Audit entries after a position as OCSF JSON Lines, CEF or RFC 5424 lines",
)
def export_entries(
    request: Request,
    principal: Annotated[Principal, Depends(api_principal)],
    export_format: Annotated[Format, Query(alias="format")] = "ocsf",
    after: Annotated[int, Query(ge=0, description="Entries with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=DOWNLOAD_LIMIT)] = 1000,
) -> Response:
    principal.require(Action.AUDIT_EXPORT)
    records = workspace(request).audit_export_range(after, limit, principal)
    lines = workspace(request).audit_export().render(records, export_format)
    return _text(lines, export_format, f"paceline-audit-after-{after}")


@router.get("/audit/download", include_in_schema=False)
def download(
    request: Request,
    principal: Annotated[Principal, Depends(page_principal)],
    export_format: Annotated[Format, Query(alias="format")] = "ocsf",
) -> Response:
    """The viewer's current filter as a download (newest first, at most 10,000 entries)."""
    principal.require(Action.AUDIT_EXPORT)
    ws = workspace(request)
    records = ws.search_audit(audit_filter(request), DOWNLOAD_LIMIT, principal)
    lines = ws.audit_export().render(list(reversed(records)), export_format)
    return _text(lines, export_format, "paceline-audit")
