"""The exception tree shared by the library, the CLI and the HTTP API.

Every error a user can cause is a :class:`PacelineError`. Each class carries an
HTTP status and a CLI exit code so the front ends translate errors in one place
instead of guessing per call site. Messages name the offending value and say how
to fix it.
"""

from __future__ import annotations

from typing import Any


class PacelineError(Exception):
    """Base of every error Paceline raises on purpose."""

    code = "error"
    http_status = 400
    exit_code = 2

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The body of the one JSON error shape: ``{"error": {...}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class UsageError(PacelineError):
    """The request itself is unusable (bad option, unknown name); nothing changed."""

    code = "usage_error"


class WorkspaceNotFound(UsageError):
    """No workspace where one was expected."""

    code = "workspace_not_found"


class ValidationError(UsageError):
    """A field or value failed validation."""

    code = "validation_error"
    http_status = 422


class SchemaError(UsageError):
    """An input file cannot be read as the table it claims to be (missing column, bad header)."""

    code = "schema_error"
    http_status = 422


class NotFound(PacelineError):
    """A named record does not exist."""

    code = "not_found"
    http_status = 404


class Conflict(PacelineError):
    """The change clashes with existing state (e.g. a login that is taken)."""

    code = "conflict"
    http_status = 409


class AuthenticationError(PacelineError):
    """Credentials are missing or wrong."""

    code = "unauthenticated"
    http_status = 401


class PermissionDenied(PacelineError):
    """The authenticated principal lacks the role for this action."""

    code = "forbidden"
    http_status = 403


class CheckFailed(PacelineError):
    """A verification ran and found a problem (tampered audit log, gate not passed)."""

    code = "check_failed"
    http_status = 409
    exit_code = 1
