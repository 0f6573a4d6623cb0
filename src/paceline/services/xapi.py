"""xAPI (Experience API) statements from a learning system, read into learning events.

A learning record store exports statements as JSON (one statement, a list, or the
``{"statements": [...]}`` page of the LRS API) or as JSON Lines. Paceline reads five verbs,
by their ADL IRIs (``http://adlnet.gov/expapi/verbs/registered`` and ``attempted``,
``completed``, ``passed``, ``failed``) or any IRI ending in one of those words, and the
``voided`` verb, which withdraws an earlier statement. Other verbs (``launched``,
``experienced``, ...) are counted as ignored, not as errors.

From each statement it takes:

* the statement ``id`` (a UUID): loading is idempotent by it;
* the person: ``actor.account.name`` (set it to the HR person id), else the ``actor.mbox``
  address without ``mailto:``, else ``mbox_sha1sum`` or ``openid``. The service pseudonymises
  it before anything is stored;
* the course: ``object.id``, matched against the courses' ``activity_ids``, else its last
  path segment as the course key;
* ``result.score.scaled`` (0..1), else ``raw`` on the ``min``..``max`` scale; ``result.success``;
* ``timestamp`` (else ``stored``); without an offset it is read as UTC and a notice says so.

:func:`parse_statement` raises :class:`StatementProblem` naming the field, value and reason
for a statement it cannot use, or :class:`Ignored` for a verb Paceline does not read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from paceline.domain.enablement_fields import KEY_PATTERN
from paceline.domain.learning import Verb

ADL = "http://adlnet.gov/expapi/verbs/"
VOIDED = "voided"
MAX_ID = 200


class StatementProblem(ValueError):
    """A statement that cannot be used; ``field`` and ``value`` say where, ``reason`` why."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field, self.value, self.reason = field, _shown(value), reason


class Ignored(Exception):
    """A well-formed statement with a verb Paceline does not read."""

    def __init__(self, verb: str) -> None:
        super().__init__(verb)
        self.verb = verb


@dataclass(frozen=True)
class Statement:
    statement_id: str
    person: str  # raw, not yet pseudonymised
    verb: Verb
    activity: str
    at: datetime  # UTC
    score: float | None = None
    success: bool | None = None
    naive_time: bool = False


@dataclass(frozen=True)
class Voiding:
    """A ``voided`` statement: it withdraws the statement ``target``."""

    statement_id: str
    target: str


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 80:
        return value[:77] + "..."
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) <= 80 else text[:77] + "..."
    return value


def _object(doc: Any, name: str, required: bool = True) -> dict[str, Any]:
    if doc is None and not required:
        return {}
    if not isinstance(doc, dict):
        raise StatementProblem(name, doc, f"{name} must be an object")
    return doc


def _uuid(value: Any, name: str) -> str:
    """A UUID in its canonical form, lower-cased (a pattern check: ``uuid.UUID`` is 20x slower)."""
    if not isinstance(value, str):
        raise StatementProblem(name, value, f"{name} is required (a UUID)")
    text = value.strip()
    if not _UUID.fullmatch(text):
        raise StatementProblem(name, value, f"{name} is not a UUID (8-4-4-4-12 hex digits)")
    return text.lower()


def actor_id(actor: Any) -> str:
    """The person id of an Agent: account name, else mbox address, else mbox_sha1sum or openid."""
    agent = _object(actor, "actor")
    if agent.get("objectType", "Agent") != "Agent":
        raise StatementProblem(
            "actor.objectType", agent.get("objectType"), "only an Agent (one person) can learn"
        )
    account = agent.get("account")
    if account is not None:
        name = _object(account, "actor.account").get("name")
        if not isinstance(name, str) or not name.strip():
            raise StatementProblem("actor.account.name", name, "an account needs a name")
        return _id(name.strip(), "actor.account.name")
    mbox = agent.get("mbox")
    if mbox is not None:
        if not isinstance(mbox, str) or not mbox.lower().startswith("mailto:") or "@" not in mbox:
            raise StatementProblem("actor.mbox", mbox, "mbox must be mailto:address")
        return _id(mbox[7:].strip().lower(), "actor.mbox")
    for name in ("mbox_sha1sum", "openid"):
        value = agent.get(name)
        if isinstance(value, str) and value.strip():
            return _id(value.strip(), f"actor.{name}")
    raise StatementProblem("actor", agent, "the actor has no account, mbox, mbox_sha1sum or openid")


def _id(value: str, name: str) -> str:
    if len(value) > MAX_ID:
        raise StatementProblem(name, value, f"{name} is longer than {MAX_ID} characters")
    return value


def verb_of(verb: Any) -> str:
    """The verb's word: the last segment of its IRI (``.../verbs/completed`` -> ``completed``)."""
    doc = _object(verb, "verb")
    iri = doc.get("id")
    if not isinstance(iri, str) or not iri.strip():
        raise StatementProblem("verb.id", iri, "verb.id is required (an IRI)")
    return iri.strip().rstrip("/").rsplit("/", 1)[-1].lower()


def when(doc: Mapping[str, Any]) -> tuple[datetime, bool]:
    """The statement's time in UTC, and whether it had no offset (read as UTC)."""
    name = "timestamp" if doc.get("timestamp") is not None else "stored"
    value = doc.get(name)
    if not isinstance(value, str):
        raise StatementProblem("timestamp", value, "timestamp (or stored) is required, ISO 8601")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise StatementProblem(name, value, f"{name} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC), True
    return at.astimezone(UTC), False


def _finite(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StatementProblem(name, value, f"{name} is not a number")
    return float(value)


def score_of(result: Mapping[str, Any]) -> float | None:
    """The score on 0..1: ``scaled``, else ``(raw - min) / (max - min)`` with ``min`` 0 by default."""
    score = _object(result.get("score"), "result.score", required=False)
    scaled = _finite(score.get("scaled"), "result.score.scaled")
    if scaled is not None:
        if not 0 <= scaled <= 1:
            raise StatementProblem("result.score.scaled", scaled, "Paceline reads scaled scores from 0 to 1")
        return scaled
    raw = _finite(score.get("raw"), "result.score.raw")
    if raw is None:
        return None
    high = _finite(score.get("max"), "result.score.max")
    low = _finite(score.get("min"), "result.score.min") or 0.0
    if high is None:
        raise StatementProblem("result.score.max", None, "a raw score needs max (or give scaled)")
    if high <= low:
        raise StatementProblem("result.score.max", high, "max must be greater than min")
    if not low <= raw <= high:
        raise StatementProblem("result.score.raw", raw, f"raw is outside {low:g}..{high:g}")
    return (raw - low) / (high - low)


def _success(result: Mapping[str, Any]) -> bool | None:
    value = result.get("success")
    if value is None or isinstance(value, bool):
        return value
    raise StatementProblem("result.success", value, "result.success must be true or false")


def activity_of(obj: Any) -> str:
    doc = _object(obj, "object")
    if doc.get("objectType", "Activity") != "Activity":
        raise StatementProblem("object.objectType", doc.get("objectType"), "the object must be an Activity")
    iri = doc.get("id")
    if not isinstance(iri, str) or not iri.strip():
        raise StatementProblem("object.id", iri, "object.id is required (the activity IRI)")
    return _id(iri.strip(), "object.id")


def parse_statement(doc: Any) -> Statement | Voiding:
    """One statement as Paceline reads it (see the module docstring)."""
    body = _object(doc, "statement")
    sid = _uuid(body.get("id"), "id")
    word = verb_of(body.get("verb"))
    if word == VOIDED:
        target = _object(body.get("object"), "object")
        if target.get("objectType") != "StatementRef":
            raise StatementProblem(
                "object.objectType", target.get("objectType"), "a voiding refers to a StatementRef"
            )
        return Voiding(sid, _uuid(target.get("id"), "object.id"))
    try:
        verb = Verb(word)
    except ValueError:
        raise Ignored(word) from None
    result = _object(body.get("result"), "result", required=False)
    at, naive = when(body)
    return Statement(
        statement_id=sid,
        person=actor_id(body.get("actor")),
        verb=verb,
        activity=activity_of(body.get("object")),
        at=at,
        score=score_of(result),
        success=_success(result),
        naive_time=naive,
    )


def course_key(activity: str, by_activity: Mapping[str, str]) -> str:
    """The course an activity IRI means: a course that lists it, else the IRI's last path segment."""
    if activity in by_activity:
        return by_activity[activity]
    parts = urlsplit(activity)
    tail = (parts.path or parts.netloc or activity).rstrip("/").rsplit("/", 1)[-1].lower()
    if not KEY_PATTERN.match(tail):
        raise StatementProblem(
            "object.id",
            activity,
            "the activity is not a known course and its last segment is not a course key",
        )
    return tail


_NON_WS = re.compile(r"\S")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def documents(text: str, source: str = "input") -> Iterator[Any]:
    """The statements of a JSON document (object, list, or LRS page) or of JSON Lines text.

    A line that is not JSON is yielded as a :class:`StatementProblem` so its number is kept.
    """
    start = _NON_WS.search(text)
    if start is None:
        return
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        yield from _lines(text)
        return
    if isinstance(whole, dict) and isinstance(whole.get("statements"), list):
        yield from whole["statements"]
    elif isinstance(whole, list):
        yield from whole
    else:
        yield whole


def _lines(text: str) -> Iterator[Any]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            yield StatementProblem("line", line, f"not JSON ({exc.msg} at column {exc.colno})")


def parse_all(docs: Iterable[Any]) -> Iterator[tuple[int, Statement | Voiding | StatementProblem | Ignored]]:
    """Each document numbered from 1 with its parsed statement, or the problem or ignored verb."""
    for number, doc in enumerate(docs, start=1):
        if isinstance(doc, StatementProblem):
            yield number, doc
            continue
        try:
            yield number, parse_statement(doc)
        except (StatementProblem, Ignored) as outcome:
            yield number, outcome
