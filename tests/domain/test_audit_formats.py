"""Audit entries as OCSF, CEF and RFC 5424: each format checked against its schema or grammar."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from paceline.domain import audit_formats as fmt
from paceline.domain.audit_formats import AuditRecord, Origin
from paceline.domain.privacy import pseudonymise

SCHEMAS = Path(__file__).parents[1] / "schemas" / "ocsf-1.7.0"
CLASS_SCHEMA = {
    6003: "api_activity.json",
    3002: "authentication.json",
    3001: "account_change.json",
    3004: "entity_management.json",
}
ORIGIN = Origin("paceline-test", "1.2.3")
KEY = b"k" * 32


def pseudonym(value: str) -> str:
    return pseudonymise(KEY, value)


def _registry() -> Registry:
    registry: Registry = Registry()
    for path in SCHEMAS.glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        registry = registry.with_resource(doc["$id"], Resource.from_contents(doc))
    return registry


REGISTRY = _registry()


def validate(event: dict[str, Any]) -> None:
    """Raise unless *event* meets the JSON Schema of its OCSF class."""
    schema = json.loads((SCHEMAS / CLASS_SCHEMA[event["class_uid"]]).read_text(encoding="utf-8"))
    Draft202012Validator(schema, registry=REGISTRY).validate(event)
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]


def record(entity: str, action: str, data: dict[str, Any], **kw: Any) -> AuditRecord:
    base = {
        "seq": 7,
        "at": "2026-03-01T10:00:00.123456+00:00",
        "actor": "user:ada",
        "entity_id": "3",
        "hash": "ab" * 32,
    }
    base.update(kw)
    return AuditRecord(entity=entity, action=action, data=data, **base)


LOGIN_FAIL = record(
    "authentication",
    "auth.login",
    {
        "method": "password",
        "outcome": "failure",
        "login": "eve@example.com",
        "reason_code": "INVALID_CREDENTIALS",
        "src_ip": "10.1.2.3",
    },
    actor="user:eve@example.com",
    entity_id="eve@example.com",
)
EXAMPLES = [
    (LOGIN_FAIL, 3002, 1),
    (
        record("authentication", "auth.logout", {"method": "session", "outcome": "success", "login": "ada"}),
        3002,
        2,
    ),
    (record("users", "create", {"login": "bob", "active": True, "password_hash": "<redacted>"}), 3001, 1),
    (record("users", "update", {"active": {"old": True, "new": False}}), 3001, 5),
    (record("users", "update", {"password_hash": "<redacted>"}), 3001, 3),
    (record("role_grants", "create", {"user_id": 4, "role": "auditor"}), 3001, 7),
    (record("role_grants", "delete", {"user_id": 4, "role": "auditor"}), 3001, 8),
    (record("flags", "update", {"state": {"old": "enabled", "new": "disabled"}}), 3004, 3),
    (record("flags", "flag.rollback", {"variant": "v2"}), 3004, 99),
    (record("use_cases", "create", {"key": "claims-triage", "title": "Claims triage"}), 3004, 1),
    (record("cases", "update", {"status": {"new": "completed"}}, entity_id="c-1"), 6003, 3),
    (record("outbox", "create", {"payload": {"text": "Patient John Smith"}}), 6003, 1),
    (record("audit_export_cursors", "audit.export", {"sent": 10}, actor="cli:operator"), 3004, 99),
]


@pytest.mark.parametrize(
    ("entry", "class_uid", "activity"), EXAMPLES, ids=[f"{e.entity}-{e.action}" for e, _, _ in EXAMPLES]
)
def test_each_entry_maps_to_its_class_and_validates(
    entry: AuditRecord, class_uid: int, activity: int
) -> None:
    event = fmt.to_ocsf(entry, ORIGIN, pseudonym)
    assert (event["class_uid"], event["activity_id"]) == (class_uid, activity)
    assert event["metadata"]["version"] == fmt.OCSF_VERSION == "1.7.0"
    assert event["metadata"]["uid"] == "paceline-audit-7"
    assert event["time"] == int(datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC).timestamp() * 1000)
    validate(event)


def test_a_failed_login_is_a_failure_without_personal_data() -> None:
    event = fmt.to_ocsf(LOGIN_FAIL, ORIGIN, pseudonym)
    assert event["status_id"] == fmt.STATUS_FAILURE
    assert event["status_detail"] == "INVALID_CREDENTIALS"
    assert event["user"]["uid"] == pseudonym("user:eve@example.com")
    text = json.dumps(event)
    assert "eve@example.com" not in text and "10.1.2.3" not in text
    assert event["src_endpoint"]["uid"] == pseudonym("ip:10.1.2.3")  # correlatable, not readable


def test_free_text_is_replaced_by_a_keyed_digest_but_codes_stay() -> None:
    entry = record(
        "use_cases",
        "update",
        {
            "title": {"old": "Claims", "new": "Claims for Dr. Jane Roe"},
            "phase": {"old": 2, "new": 3},
            "status": {"old": "draft", "new": "approved"},
            "notes": "call 555-0100",
        },
    )
    changes = fmt.to_ocsf(entry, ORIGIN, pseudonym)["unmapped"]["changes"]
    assert changes["phase"] == {"old": 2, "new": 3}
    assert changes["status"] == {"old": "draft", "new": "approved"}
    assert changes["title"]["new"].startswith("hmac:") and "Jane" not in json.dumps(changes)
    assert changes["notes"].startswith("hmac:")
    assert (
        changes["title"]["new"]
        != fmt.to_ocsf(entry, ORIGIN, lambda v: pseudonymise(b"other", v))["unmapped"]["changes"]["title"][
            "new"
        ]
    )  # keyed: another workspace key gives another digest


# --- property tests: any entry validates, and no free text leaks ---------------------

ENTITIES = [
    "authentication",
    "users",
    "role_grants",
    "flags",
    "use_cases",
    "cases",
    "outbox",
    "model_versions",
    "review_tasks",
    "api_tokens",
]
ACTIONS = ["create", "update", "delete", "auth.login", "auth.logout", "auth.token", "flag.rollback"]
SECRET_TEXT = st.text(min_size=1, max_size=30).map(lambda s: f"secret {s} text@example.org")
VALUES = st.one_of(
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    SECRET_TEXT,
    st.sampled_from(["draft", "approved", "v2"]),
)
DATA = st.dictionaries(
    st.sampled_from(["status", "title", "login", "notes", "active", "phase", "outcome", "src_ip"]),
    st.one_of(VALUES, st.fixed_dictionaries({"old": VALUES, "new": VALUES})),
    max_size=6,
)
RECORDS = st.builds(
    AuditRecord,
    seq=st.integers(1, 10**9),
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC).isoformat(timespec="microseconds")
    ),
    actor=st.sampled_from(["user:ada", "cli:operator", "system", "token:3", "user:x@y.z"]),
    action=st.sampled_from(ACTIONS),
    entity=st.sampled_from(ENTITIES),
    entity_id=st.one_of(st.none(), st.text(max_size=20), st.integers(0, 99).map(str)),
    data=DATA,
    hash=st.text("0123456789abcdef", min_size=64, max_size=64),
)


@settings(max_examples=150, deadline=None)
@given(RECORDS)
def test_any_entry_gives_a_valid_event_in_every_format(entry: AuditRecord) -> None:
    event = fmt.to_ocsf(entry, ORIGIN, pseudonym)
    validate(event)
    line = fmt.to_json_line(event)
    assert "\n" not in line and json.loads(line) == event
    assert "secret " not in line and "@example.org" not in line and "x@y.z" not in line
    header, ext = parse_cef(fmt.to_cef(event))
    assert header[4] == str(event["type_uid"]) and ext["externalId"] == str(entry.seq)
    assert ext["cs1"] == entry.hash
    message = parse_syslog(fmt.to_syslog(event, line, "host.example"))
    assert message["msg"] == line and message["sd"]["audit@32473"]["seq"] == str(entry.seq)


# --- a CEF parser (ArcSight CEF rules) -----------------------------------------------


def _split_header(line: str) -> tuple[list[str], str]:
    fields, current, i = [], "", 0
    while len(fields) < 7:
        ch = line[i]
        if ch == "\\" and line[i + 1] in "\\|":
            current, i = current + line[i + 1], i + 2
        elif ch == "|":
            fields.append(current)
            current, i = "", i + 1
        else:
            current, i = current + ch, i + 1
    return fields, line[i:]


def _unescape_ext(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value)


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """Header fields and extensions of a CEF:0 line; raises AssertionError on bad syntax."""
    assert line.startswith("CEF:0|") and "\n" not in line
    header, rest = _split_header(line)
    assert header[6] in {str(n) for n in range(11)}
    pairs = re.findall(r"(\w+)=((?:[^=\\]|\\.)*?)(?=\s\w+=|$)", rest)
    ext = {key: _unescape_ext(value) for key, value in pairs}
    assert " ".join(f"{k}={v}" for k, v in pairs) == rest, "extension is not key=value pairs"
    return header, ext


@given(st.text(max_size=40), st.text(max_size=40))
def test_cef_escaping_round_trips(name: str, value: str) -> None:
    event = fmt.to_ocsf(record("cases", "update", {}), ORIGIN, pseudonym)
    event["type_name"], event["message"] = name, value
    header, ext = parse_cef(fmt.to_cef(event))
    assert header[5] == name.replace("\r", " ").replace("\n", " ")
    assert ext["msg"] == value.replace("\r\n", "\n")


# --- an RFC 5424 parser (section 6 ABNF) ---------------------------------------------

SYSLOG = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<version>[1-9]\d{0,2}) (?P<ts>\S+) (?P<host>[!-~]{1,255}) "
    r"(?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) (?P<rest>.*)$",
    re.DOTALL,
)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
SD_NAME = r"[!#-<>-\\^-~]{1,32}"  # PRINTUSASCII except '=', ' ', ']', '"'


def _parse_sd(rest: str) -> tuple[dict[str, dict[str, str]], str]:
    if rest.startswith("-"):
        return {}, rest[1:]
    elements: dict[str, dict[str, str]] = {}
    while rest.startswith("["):
        m = re.match(rf"\[({SD_NAME})", rest)
        assert m, f"bad SD-ID in {rest[:40]!r}"
        sd_id, rest, params = m.group(1), rest[m.end() :], {}
        while rest.startswith(" "):
            p = re.match(rf' ({SD_NAME})="((?:[^"\\\]]|\\["\\\]])*)"', rest)
            assert p, f"bad SD-PARAM in {rest[:40]!r}"
            params[p.group(1)] = re.sub(r'\\(["\\\]])', r"\1", p.group(2))
            rest = rest[p.end() :]
        assert rest.startswith("]")
        elements[sd_id], rest = params, rest[1:]
    return elements, rest


def parse_syslog(line: str) -> dict[str, Any]:
    m = SYSLOG.match(line)
    assert m, f"not RFC 5424: {line[:80]!r}"
    assert 0 <= int(m["pri"]) <= 191 and m["version"] == "1"
    assert TIMESTAMP.match(m["ts"]), m["ts"]
    sd, rest = _parse_sd(m["rest"])
    msg = None
    if rest:
        assert rest.startswith(" \ufeff"), "MSG must be UTF-8 with a BOM"
        msg = rest[2:]
    return {
        "pri": int(m["pri"]),
        "host": m["host"],
        "app": m["app"],
        "msgid": m["msgid"],
        "sd": sd,
        "msg": msg,
    }


def test_syslog_priority_says_audit_facility_and_failure_severity() -> None:
    event = fmt.to_ocsf(LOGIN_FAIL, ORIGIN, pseudonym)
    parsed = parse_syslog(fmt.to_syslog(event, fmt.to_cef(event), "host"))
    assert divmod(parsed["pri"], 8) == (13, 4)
    assert parsed["msgid"] == "authentication.auth.login" and parsed["msg"].startswith("CEF:0|")
    ok = fmt.to_ocsf(record("cases", "update", {}), ORIGIN, pseudonym)
    assert divmod(parse_syslog(fmt.to_syslog(ok, "x", "host"))["pri"], 8) == (13, 6)


@given(st.text(max_size=30))
def test_sd_param_escaping_round_trips(value: str) -> None:
    event = fmt.to_ocsf(record("cases", "update", {}), ORIGIN, pseudonym)
    event["unmapped"]["audit_hash"] = value
    parsed = parse_syslog(fmt.to_syslog(event, "m", "h o s t"))
    assert parsed["sd"]["audit@32473"]["hash"] == value and parsed["host"] == "host"


def test_octet_counting_frame_counts_bytes_not_characters() -> None:
    assert fmt.octet_frame("é") == b"2 \xc3\xa9"


def test_hec_envelope() -> None:
    event = fmt.to_ocsf(LOGIN_FAIL, ORIGIN, pseudonym)
    hec = fmt.hec_event(event, "h")
    assert hec["sourcetype"] == "ocsf:authentication" and hec["event"] == event
    assert hec["time"] == event["time"] / 1000
