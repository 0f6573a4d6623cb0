"""Pseudonymisation of person ids.

A keyed hash (HMAC-SHA256 with the workspace secret) maps each raw id to a stable
token: the same person joins across tables and loads, but without the secret the
token cannot be reversed by hashing a list of known employee ids.
"""

from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_PREFIX = "p_"


def pseudonymise(secret: bytes, person_id: str) -> str:
    """The pseudonym of *person_id* under *secret* (``p_`` and 32 hex digits)."""
    digest = hmac.new(secret, person_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:32]
