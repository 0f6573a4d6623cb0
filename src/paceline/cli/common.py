"""What every command shares: output formats, the error translation, the workspace."""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from paceline.bootstrap import Workspace
from paceline.cli.output import err
from paceline.errors import PacelineError

F = TypeVar("F", bound=Callable[..., Any])


class Fmt(enum.StrEnum):
    table = "table"
    json = "json"


def handles_errors(func: F) -> F:
    """Turn library errors into a message that says how to fix them, and an exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PacelineError as exc:
            err.print(f"[bold red]Error:[/] {exc.message}", markup=True, highlight=False)
            fix = exc.details.get("fix")
            if fix:
                err.print(f"[bold]Fix:[/] {fix}", markup=True, highlight=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def open_workspace() -> Workspace:
    """The workspace of ``$PACELINE_HOME`` or ``./.paceline`` (exit 2 with advice if none)."""
    return Workspace.open()
