"""Redaction of personal data in stored texts of sensitive use cases.

Special-category data (health, biometric: GDPR Art. 9) makes a use case *sensitive*: the texts
Paceline keeps about its work (review items, decisions, label exports) are redacted before
they are stored. Built-in patterns catch e-mail addresses, IBAN-like account numbers, medical
or case record numbers, phone numbers and titled names ("Dr. Jones"); a workspace adds the
names it knows (``redaction_names``) and its own patterns (``redaction_patterns``). Each hit
becomes a tag such as ``[EMAIL]``, so a reviewer still sees that something was there.

Example:
    >>> Redactor.build().text("Call Dr. Jones on +44 20 7946 0958 or mail a.b@example.org")
    'Call [NAME] on [PHONE] or mail [EMAIL]'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from paceline.errors import ValidationError

SPECIAL_CATEGORIES = frozenset({"health", "biometric"})

BUILTIN_PATTERNS: dict[str, str] = {
    "EMAIL": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "IBAN": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
    "RECORD": (
        r"(?i)\b(?:MRN|NHS|record|patient|chart|case)(?:\s*(?:no\.?|number|id|#))?[\s:#-]*[A-Z]{0,3}\d{5,}\b"
    ),
    "PHONE": r"(?<![\w(-])[+(]?\d[\d ()./-]{6,}\d(?![\w-])",
    "NAME": r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof)\.?\s+[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?",
}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 8, 15


def is_sensitive(categories: Iterable[str]) -> bool:
    """Whether a use case's data categories make it sensitive (health or biometric data)."""
    return bool(SPECIAL_CATEGORIES & set(categories))


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if ISO_DATE.match(text) or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        return text  # a date or a short number, not a phone number
    return "[PHONE]"


@dataclass(frozen=True)
class Redactor:
    """Compiled patterns, applied in order (e-mail, IBAN, record, phone, names, then custom)."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def build(cls, names: Iterable[str] = (), extra: Mapping[str, str] | None = None) -> Redactor:
        """The built-in patterns, the configured names (whole words, any case) and extra patterns.

        Raises :class:`ValidationError` naming a setting whose regular expression does not compile.
        """
        compiled = [(tag, re.compile(rx)) for tag, rx in BUILTIN_PATTERNS.items()]
        listed = sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)
        if listed:
            alternatives = "|".join(re.escape(n) for n in listed)
            compiled.append(("NAME", re.compile(rf"(?i)\b(?:{alternatives})\b")))
        for tag, rx in (extra or {}).items():
            try:
                compiled.append((tag.upper(), re.compile(rx)))
            except re.error as exc:
                raise ValidationError(
                    f"redaction_patterns.{tag}: {rx!r} is not a valid regular expression ({exc})",
                    field=f"redaction_patterns.{tag}",
                    fix="fix the pattern in the workspace settings",
                ) from None
        return cls(tuple(compiled))

    def text(self, value: str) -> str:
        for tag, pattern in self.patterns:
            value = pattern.sub(_phone if tag == "PHONE" else f"[{tag}]", value)
        return value

    def value(self, value: Any) -> Any:
        """*value* with every string inside (dict values, list items) redacted; keys are kept."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
