"""Field-by-field readers for the enablement documents (curricula, goals, sessions, champions).

Every reader takes the raw value and the field's name and returns the typed value or raises
:class:`~paceline.errors.ValidationError` naming the field, the value and the fix, so a
document from a form, a JSON file or the API fails the same way on the same mistake.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from paceline.errors import ValidationError

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
KEY_FIX = "use 1-80 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
TEXT_LIMIT = 200
NOTE_LIMIT = 2000

E = TypeVar("E", bound=StrEnum)


def bad(name: str, value: Any, message: str, fix: str) -> ValidationError:
    shown = value if not isinstance(value, str) or len(value) <= 60 else value[:57] + "..."
    return ValidationError(f"{name} {shown!r}: {message}", field=name, value=shown, fix=fix)


def key(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not KEY_PATTERN.match(value.strip()):
        raise bad(name, value, "is not a key", KEY_FIX)
    return value.strip()


def optional_key(doc: dict[str, Any], name: str) -> str | None:
    if doc.get(name) in (None, ""):
        return None
    return key(doc, name)


def text(doc: dict[str, Any], name: str, required: bool = True, limit: int = TEXT_LIMIT) -> str:
    value = doc.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise bad(name, value, "is not text", "give a string")
    value = value.strip()
    if required and not value:
        raise bad(name, value, "is required", f"give a {name.replace('_', ' ')}")
    if len(value) > limit:
        raise bad(name, value, f"is longer than {limit} characters", "shorten it")
    return value


def whole(doc: dict[str, Any], name: str, low: int, high: int, default: int | None = None) -> int:
    value = doc.get(name, default)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(name, value, "is out of range", f"give a whole number from {low} to {high}")
    return value


def number(doc: dict[str, Any], name: str, low: float, high: float, default: float | None = None) -> float:
    value = doc.get(name, default)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise bad(name, value, "is not a number", f"give a number from {low:g} to {high:g}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(name, value, "is not a number", f"give a number from {low:g} to {high:g}")
    if not low <= value <= high:
        raise bad(name, value, "is out of range", f"give a number from {low:g} to {high:g}")
    return float(value)


def day(doc: dict[str, Any], name: str, required: bool = True) -> date | None:
    value = doc.get(name)
    if value in (None, ""):
        if required:
            raise bad(name, value, "is required", "give a date as YYYY-MM-DD")
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise bad(name, value, "is not a date", "write YYYY-MM-DD")


def choice(doc: dict[str, Any], name: str, kind: type[E], default: E | None = None) -> E:
    value = doc.get(name, default)
    try:
        return kind(str(value))
    except ValueError:
        names = ", ".join(k.value for k in kind)
        raise bad(name, value, "is not one of the choices", f"use one of: {names}") from None


def strings(doc: dict[str, Any], name: str, limit: int = TEXT_LIMIT) -> tuple[str, ...]:
    value = doc.get(name) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise bad(name, value, "is not a list of texts", 'give e.g. ["first", "second"]')
    out = tuple(v.strip() for v in value if v.strip())
    for v in out:
        if len(v) > limit:
            raise bad(name, v, f"is longer than {limit} characters", "shorten it")
    return out


def keys(doc: dict[str, Any], name: str) -> tuple[str, ...]:
    out = strings(doc, name)
    for v in out:
        if not KEY_PATTERN.match(v):
            raise bad(name, v, "is not a key", KEY_FIX)
    return out


def unknown_fields(doc: Any, allowed: Iterable[str], what: str) -> None:
    """Refuse anything but a mapping of the allowed fields (typos must not pass silently)."""
    if not isinstance(doc, dict):
        raise ValidationError(f"a {what} must be an object", fix=f"give a JSON object with {what} fields")
    extra = sorted(set(doc) - set(allowed), key=str)
    if extra:
        raise bad(
            str(extra[0]), doc[extra[0]], f"is not a field of a {what}", f"the fields are {sorted(allowed)}"
        )
