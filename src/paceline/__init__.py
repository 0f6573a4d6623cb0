"""Paceline: run a firm's AI workforce program end to end, on measured evidence.

The public surface is what ``__all__`` lists; everything else may change.

Names are imported on first use (PEP 562), so ``import paceline`` stays cheap: a
script that only calls :func:`paceline.drift` does not load the workspace stack
(SQLAlchemy, the migrations, the runtime), and one that opens a workspace does not
load the drift engine until it needs it.

Example:
    >>> import paceline
    >>> ws = paceline.Workspace.init("/tmp/acme")                 # doctest: +SKIP
    >>> ws.ingest("task_events", "tasks.csv").to_dict()["loaded"]  # doctest: +SKIP
    963
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what static checkers and IDEs see; at run time each name loads on first use
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

_ERRORS = (
    "AuthenticationError",
    "CheckFailed",
    "Conflict",
    "NotFound",
    "PacelineError",
    "PermissionDenied",
    "SchemaError",
    "UsageError",
    "ValidationError",
    "WorkspaceNotFound",
)

#: public name -> the module that defines it
_HOMES: dict[str, str] = {
    "Action": "paceline.domain.roles",
    "ChainCheck": "paceline.domain.audit_chain",
    "ColumnDrift": "paceline.analytics.drift",
    "DriftPolicy": "paceline.analytics.drift",
    "DriftReport": "paceline.analytics.drift",
    "IngestReport": "paceline.storage.ingest",
    "PilotResult": "paceline.analytics.result",
    "Role": "paceline.domain.roles",
    "Settings": "paceline.settings",
    "Workspace": "paceline.bootstrap",
    "drift": "paceline.services.drift",
    "evaluate_pilot": "paceline.services.pilot_data",
    **dict.fromkeys(_ERRORS, "paceline.errors"),
}

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


def __getattr__(name: str) -> Any:
    """Load a public name from its module the first time it is asked for, then keep it."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'paceline' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
