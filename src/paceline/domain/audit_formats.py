"""Audit entries as SIEM events: OCSF JSON, CEF and RFC 5424 syslog, as pure functions.

One audit entry becomes one OCSF event (schema version pinned in
:data:`OCSF_VERSION`); CEF and syslog are renderings of that event, so every
format says the same thing. Nothing personal leaves in clear: logins and IP
addresses go through the caller's keyed pseudonym function, and the values of
changed fields are kept only when they are numbers, flags or short codes of a
known enumeration field; any other value is replaced by its keyed digest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OCSF_VERSION = "1.7.0"
PRODUCT_NAME = "Paceline"
VENDOR_NAME = "Paceline"
SYSLOG_FACILITY = 13  # "log audit" (RFC 5424, table 1)
SYSLOG_PEN = 32473  # the enterprise number RFC 5612 reserves for documentation and examples
SYSLOG_APP = "paceline"
AUTH_ENTITY = "authentication"

# OCSF classes and categories used here (uid, name, category uid, category name).
API_ACTIVITY = (6003, "API Activity", 6, "Application Activity")
AUTHENTICATION = (3002, "Authentication", 3, "Identity & Access Management")
ACCOUNT_CHANGE = (3001, "Account Change", 3, "Identity & Access Management")
ENTITY_MANAGEMENT = (3004, "Entity Management", 3, "Identity & Access Management")

ACCOUNT_ENTITIES = frozenset({"users", "role_grants"})
CONFIG_ENTITIES = frozenset(
    {
        "api_tokens",
        "flags",
        "use_cases",
        "pilots",
        "models",
        "model_versions",
        "model_stage_changes",
        "model_approvals",
        "model_cards",
        "model_schedules",
        "model_retraining_requests",
        "audit_export_cursors",
        "audit_checkpoints",
    }
)
# Fields whose values are codes of an enumeration, safe to export as they are.
CODE_FIELDS = frozenset(
    {
        "status",
        "state",
        "step",
        "stage",
        "phase",
        "role",
        "use_case",
        "kind",
        "variant",
        "decision",
        "outcome",
        "reason_code",
        "action",
        "table_name",
        "flag_key",
        "key",
        "version",
        "risk_tier",
        "tier",
        "method",
        "protocol",
        "severity",
        "active",
        "format",
        "sink",
        "from_stage",
        "to_stage",
        "gate",
        "verdict",
    }
)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")
_CRUD = {"create": 1, "read": 2, "update": 3, "delete": 4}
_AUTH_ACTIVITY = {"auth.login": 1, "auth.logout": 2, "auth.token": 1}
_AUTH_PROTOCOL = {"password": (99, "Password"), "oidc": (4, "OpenID"), "token": (99, "API token")}
SEVERITY_INFORMATIONAL, SEVERITY_LOW = 1, 2
STATUS_SUCCESS, STATUS_FAILURE = 1, 2

Pseudonym = Callable[[str], str]


@dataclass(frozen=True)
class AuditRecord:
    """One audit chain entry as the exporter reads it."""

    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str | None
    data: Mapping[str, Any]
    hash: str


@dataclass(frozen=True)
class Origin:
    """Where the events come from: this installation's host name and product version."""

    hostname: str
    product_version: str


def epoch_ms(at: str) -> int:
    """Milliseconds since the epoch of an ISO 8601 timestamp (UTC when it has no offset)."""
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _safe_value(key: str, value: Any, pseudonym: Pseudonym) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and key in CODE_FIELDS and _CODE.match(value) and "@" not in value:
        return value
    text = json.dumps(value, sort_keys=True, default=str)
    return "hmac:" + pseudonym(text).removeprefix("p_")


def scrub(data: Mapping[str, Any], pseudonym: Pseudonym) -> dict[str, Any]:
    """The entry's data with every free-text or identifying value replaced by a keyed digest.

    Keys (field names) stay, so a SIEM still sees *what* changed; an ``{"old","new"}``
    pair keeps its shape.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and set(value) <= {"old", "new"}:
            out[key] = {k: _safe_value(key, v, pseudonym) for k, v in value.items()}
        else:
            out[key] = _safe_value(key, value, pseudonym)
    return out


def _actor_parts(actor: str) -> tuple[str, str]:
    kind, _, name = actor.partition(":")
    return (kind, name) if name else ("system", kind)


def _user(login: str, kind: str, pseudonym: Pseudonym) -> dict[str, Any]:
    type_id = {"user": 1, "token": 1, "oidc": 1, "cli": 2}.get(kind, 3)
    return {"uid": pseudonym(f"{kind}:{login}"), "type_id": type_id}


def classify(record: AuditRecord) -> tuple[tuple[int, str, int, str], int, str]:
    """The OCSF class, activity id and activity name of *record*."""
    action = record.action
    if record.entity == AUTH_ENTITY:
        return AUTHENTICATION, _AUTH_ACTIVITY.get(action, 99), action.removeprefix("auth.").title()
    if record.entity in ACCOUNT_ENTITIES:
        return ACCOUNT_CHANGE, *_account_activity(record)
    if record.entity in CONFIG_ENTITIES:
        return ENTITY_MANAGEMENT, _CRUD.get(action, 99), action.title()
    return API_ACTIVITY, _CRUD.get(action, 99), action.title()


def _account_activity(record: AuditRecord) -> tuple[int, str]:
    grant = record.entity == "role_grants"
    if record.action == "create":
        return (7, "Attach Policy") if grant else (1, "Create")
    if record.action == "delete":
        return (8, "Detach Policy") if grant else (6, "Delete")
    if "password_hash" in record.data:
        return 3, "Password Change"
    active = record.data.get("active")
    if isinstance(active, Mapping) and active.get("new") is not None:
        return (2, "Enable") if active["new"] else (5, "Disable")
    return 99, record.action.title()


def _outcome(record: AuditRecord) -> tuple[int, int]:
    failed = record.data.get("outcome") == "failure"
    return (STATUS_FAILURE, SEVERITY_LOW) if failed else (STATUS_SUCCESS, SEVERITY_INFORMATIONAL)


def to_ocsf(record: AuditRecord, origin: Origin, pseudonym: Pseudonym) -> dict[str, Any]:
    """The OCSF event of one audit entry (see docs/audit.md for the mapping)."""
    (class_uid, class_name, category_uid, category_name), activity_id, activity_name = classify(record)
    status_id, severity_id = _outcome(record)
    kind, name = _actor_parts(record.actor)
    event: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "class_uid": class_uid,
        "class_name": class_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "severity_id": severity_id,
        "status_id": status_id,
        "status": "Success" if status_id == STATUS_SUCCESS else "Failure",
        "time": epoch_ms(record.at),
        "message": f"{record.entity} {record.action}",
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"paceline-audit-{record.seq}",
            "sequence": record.seq,
            "original_time": record.at,
            "log_name": "audit",
            "product": {
                "name": PRODUCT_NAME,
                "vendor_name": VENDOR_NAME,
                "version": origin.product_version,
            },
        },
        "actor": {"user": _user(name, kind, pseudonym), "app_name": PRODUCT_NAME},
        "unmapped": {
            "audit_seq": record.seq,
            "audit_hash": record.hash,
            "audit_action": record.action,
            "audit_entity": record.entity,
            "changes": scrub(record.data, pseudonym),
        },
    }
    _class_attributes(event, record, origin, pseudonym)
    return event


def _src_endpoint(record: AuditRecord, kind: str, pseudonym: Pseudonym) -> dict[str, Any]:
    address = record.data.get("src_ip")
    if isinstance(address, str) and address:
        return {"uid": pseudonym(f"ip:{address}"), "name": kind}
    return {"name": kind}


def _class_attributes(
    event: dict[str, Any], record: AuditRecord, origin: Origin, pseudonym: Pseudonym
) -> None:
    class_uid = event["class_uid"]
    kind, _ = _actor_parts(record.actor)
    if class_uid == AUTHENTICATION[0]:
        login = str(record.data.get("login") or _actor_parts(record.actor)[1])
        method = str(record.data.get("method", "password"))
        protocol_id, protocol = _AUTH_PROTOCOL.get(method, (99, method))
        event["user"] = _user(login, "user", pseudonym)
        event["service"] = {"name": PRODUCT_NAME, "uid": origin.hostname}
        event["dst_endpoint"] = {"hostname": origin.hostname}
        event["src_endpoint"] = _src_endpoint(record, kind, pseudonym)
        event["auth_protocol_id"], event["auth_protocol"] = protocol_id, protocol
        event["is_remote"] = True
        if event["status_id"] == STATUS_FAILURE:
            event["status_detail"] = str(record.data.get("reason_code", "INVALID_CREDENTIALS"))
    elif class_uid == ACCOUNT_CHANGE[0]:
        user_id = record.entity_id if record.entity == "users" else record.data.get("user_id")
        event["user"] = {"uid": f"users/{_plain_id(user_id, pseudonym)}"}
        event["src_endpoint"] = _src_endpoint(record, kind, pseudonym)
    elif class_uid == ENTITY_MANAGEMENT[0]:
        event["entity"] = {
            "uid": _plain_id(record.entity_id, pseudonym),
            "name": record.entity,
            "type": record.entity,
        }
    else:
        event["api"] = {
            "operation": f"{record.entity}.{record.action}",
            "service": {"name": PRODUCT_NAME},
        }
        event["src_endpoint"] = _src_endpoint(record, kind, pseudonym)
        event["resources"] = [{"type": record.entity, "uid": _plain_id(record.entity_id, pseudonym)}]


def _plain_id(value: Any, pseudonym: Pseudonym) -> str:
    """A record id as it is when it is a short code (a number, a slug), else its digest."""
    text = "" if value is None else str(value)
    if _CODE.match(text) and "@" not in text:
        return text
    return "hmac:" + pseudonym(text).removeprefix("p_") if text else "-"


def to_json_line(event: Mapping[str, Any]) -> str:
    """One JSON Lines record: compact, keys sorted, no newline inside."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- CEF ---------------------------------------------------------------------------


def cef_header_escape(value: str) -> str:
    """Escape a CEF header field: backslash and pipe; line breaks become spaces."""
    value = value.replace("\\", "\\\\").replace("|", "\\|")
    return value.replace("\r", " ").replace("\n", " ")


def cef_value_escape(value: str) -> str:
    """Escape a CEF extension value: backslash, equals sign and line breaks."""
    value = value.replace("\\", "\\\\").replace("=", "\\=")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def to_cef(event: Mapping[str, Any]) -> str:
    """The CEF:0 line of an OCSF event (header, then ``key=value`` extensions)."""
    unmapped = event["unmapped"]
    severity = 3 if event["status_id"] == STATUS_FAILURE else 1
    product = event["metadata"]["product"]
    header = [
        "CEF:0",
        product["vendor_name"],
        product["name"],
        product["version"],
        str(event["type_uid"]),
        event["type_name"],
        str(severity),
    ]
    extensions = {
        "rt": str(event["time"]),
        "externalId": str(unmapped["audit_seq"]),
        "suid": event["actor"]["user"]["uid"],
        "act": f"{unmapped['audit_entity']}.{unmapped['audit_action']}",
        "outcome": event["status"].lower(),
        "cat": event["class_name"],
        "cs1Label": "auditHash",
        "cs1": unmapped["audit_hash"],
        "cs2Label": "ocsfVersion",
        "cs2": event["metadata"]["version"],
        "msg": event["message"],
    }
    if "user" in event:
        extensions["duid"] = str(event["user"]["uid"])
    head = "|".join(cef_header_escape(part) for part in header)
    ext = " ".join(f"{key}={cef_value_escape(value)}" for key, value in extensions.items())
    return f"{head}|{ext}"


# --- RFC 5424 syslog ----------------------------------------------------------------


def sd_param_escape(value: str) -> str:
    """Escape an SD-PARAM value (RFC 5424 §6.3.3): backslash, double quote and ``]``."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_token(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most *limit* long, else ``-``."""
    token = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return token or "-"


def to_syslog(event: Mapping[str, Any], message: str, hostname: str) -> str:
    """An RFC 5424 message carrying *message* (OCSF JSON or a CEF line) for *event*.

    PRI is facility 13 (log audit) with severity 6 (informational), or 4 (warning) for
    a failure; the structured data names the chain position and hash.
    """
    severity = 4 if event["status_id"] == STATUS_FAILURE else 6
    pri = SYSLOG_FACILITY * 8 + severity
    moment = datetime.fromtimestamp(event["time"] / 1000, tz=UTC)
    timestamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    unmapped = event["unmapped"]
    msgid = _header_token(f"{unmapped['audit_entity']}.{unmapped['audit_action']}", 32)
    params = {
        "seq": str(unmapped["audit_seq"]),
        "hash": unmapped["audit_hash"],
        "class_uid": str(event["class_uid"]),
        "ocsf_version": event["metadata"]["version"],
    }
    sd = " ".join(f'{key}="{sd_param_escape(value)}"' for key, value in params.items())
    host = _header_token(hostname, 255)
    return f"<{pri}>1 {timestamp} {host} {SYSLOG_APP} - {msgid} [audit@{SYSLOG_PEN} {sd}] \ufeff{message}"


def octet_frame(message: str) -> bytes:
    """RFC 6587 octet-counting frame for syslog over TCP: ``LEN SP MSG``."""
    payload = message.encode("utf-8")
    return str(len(payload)).encode("ascii") + b" " + payload


def hec_event(event: Mapping[str, Any], hostname: str) -> dict[str, Any]:
    """The Splunk HEC ``/services/collector/event`` envelope of an OCSF event."""
    return {
        "time": event["time"] / 1000,
        "host": hostname,
        "source": "paceline:audit",
        "sourcetype": "ocsf:" + event["class_name"].lower().replace(" ", "_").replace("&", "and"),
        "event": dict(event),
    }
