"""Paceline: run a firm's AI workforce program end to end, on measured evidence.

The public surface is what ``__all__`` lists; everything else may change.

Example:
    >>> import paceline
    >>> ws = paceline.Workspace.init("/tmp/acme")                 # doctest: +SKIP
    >>> ws.ingest("task_events", "tasks.csv").to_dict()["loaded"]  # doctest: +SKIP
    963
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from paceline.analytics.drift import ColumnDrift, DriftPolicy, DriftReport
from paceline.analytics.result import PilotResult
from paceline.bootstrap import Workspace
from paceline.domain.audit_chain import ChainCheck
from paceline.domain.roles import Action, Role
from paceline.errors import (
    AuthenticationError,
    CheckFailed,
    Conflict,
    NotFound,
    PacelineError,
    PermissionDenied,
    SchemaError,
    UsageError,
    ValidationError,
    WorkspaceNotFound,
)
from paceline.services.drift import drift
from paceline.services.pilot_data import evaluate_pilot
from paceline.settings import Settings
from paceline.storage.ingest import IngestReport

try:
    __version__ = version("paceline")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "Action",
    "AuthenticationError",
    "ChainCheck",
    "CheckFailed",
    "ColumnDrift",
    "Conflict",
    "DriftPolicy",
    "DriftReport",
    "IngestReport",
    "NotFound",
    "PacelineError",
    "PermissionDenied",
    "PilotResult",
    "Role",
    "SchemaError",
    "Settings",
    "UsageError",
    "ValidationError",
    "Workspace",
    "WorkspaceNotFound",
    "__version__",
    "drift",
    "evaluate_pilot",
]
