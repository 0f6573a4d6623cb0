"""Parsing of user-given option values, with errors that name the field and the fix."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import TypeVar

from paceline.errors import ValidationError

E = TypeVar("E", bound=Enum)


def parse_choice(kind: type[E], value: str | E, name: str) -> E:
    """The member of *kind* named *value*, or a :class:`ValidationError` listing the choices."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise ValidationError(
            f"{name} {value!r} is not one of: {choices}", field=name, fix=f"use one of: {choices}"
        ) from None


def parse_date(value: str, name: str) -> date:
    """An ISO date (YYYY-MM-DD), or a :class:`ValidationError` naming the field."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"{name} {value!r} is not a date", field=name, fix="write dates as YYYY-MM-DD, e.g. 2026-03-02"
        ) from None
