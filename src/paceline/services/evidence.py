"""Evidence providers: each source of evidence is one small function, registered by name.

A provider turns one kind of Paceline record into :class:`EvidenceItem` s for a use case:
pilot reports, checkpoint sign-offs, gate decisions, 30/60/90-day reviews, the risk
register, training completions, decided review-queue items, the audit trail, retention
policies, issued worker notices, management reviews and uploaded documents. Monitoring
(alerts, incidents) and the model registry add theirs with :func:`register_evidence` from
their own modules, the same way the built-ins do, so the control status never needs editing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from paceline.domain.controls import EvidenceItem
from paceline.domain.controls import EvidenceKind as K
from paceline.domain.phases import CHECKPOINTS_BY_KEY
from paceline.domain.usecases import UseCase
from paceline.services.lifecycle import LifecycleRepository

LOG_RETENTION_MIN_DAYS = 183  # EU AI Act Art. 26(6): at least six months
LOG_TABLES = ("cases", "review_tasks")  # the runtime's logs of each case and decision


class EvidenceRecords(Protocol):
    """The governance repository's share of what providers read."""

    def documents(self, use_case: str | None = None, control: str | None = None) -> list[dict[str, Any]]: ...
    def management_reviews(self) -> list[dict[str, Any]]: ...
    def retention_policies(self) -> dict[str, dict[str, Any]]: ...
    def notices(self, use_case: str | None = None) -> list[dict[str, Any]]: ...
    def pilot_reports(self, use_case: str) -> list[dict[str, Any]]: ...
    def review_decisions(self, workflows: list[str]) -> list[dict[str, Any]]: ...
    def audit_span(self) -> dict[str, Any] | None: ...


@dataclass
class EvidenceSources:
    """Everything providers may read, for one request (one database session)."""

    lifecycle: LifecycleRepository
    records: EvidenceRecords
    workflows: dict[str, str] = field(default_factory=dict)  # workflow -> use case
    extra: dict[str, Any] = field(default_factory=dict)  # other capabilities' services


Provider = Callable[[EvidenceSources, UseCase], list[EvidenceItem]]
PROVIDERS: dict[str, Provider] = {}


def register_evidence(name: str, provider: Provider) -> None:
    """Add an evidence source (another capability's records) under *name*."""
    PROVIDERS[name] = provider


def collect(sources: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    """Every piece of evidence the registered providers find for *uc*."""
    return [item for provider in PROVIDERS.values() for item in provider(sources, uc)]


def _day(value: str | date | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).date()


def _uc_link(uc: UseCase, anchor: str) -> str:
    return f"/use-cases/{uc.key}#{anchor}"


# --- the built-in providers -------------------------------------------------------------------
def pilot_reports(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            K.PILOT_REPORT,
            f"pilot {p['name']}: {p['status']}",
            p["dated"],
            uc.key,
            link=f"/pilots/{p['name']}",
            ref=p["name"],
        )
        for p in src.records.pilot_reports(uc.key)
    ]


def signoffs(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    out = []
    for key, s in src.lifecycle.signoffs(uc.key).items():
        day = _day(s.at)
        if day is None:
            continue
        title = CHECKPOINTS_BY_KEY[key].title if key in CHECKPOINTS_BY_KEY else key
        label = f"{title} signed off by {s.by} ({s.role})"
        link = _uc_link(uc, "checkpoints")
        out.append(EvidenceItem(K.GATE_SIGNOFF, label, day, uc.key, owner=s.by, link=link, ref=key))
        if key in {k.value for k in K}:
            out.append(EvidenceItem(K(key), label, day, uc.key, owner=s.by, link=link, ref=key))
    return out


def gate_decisions(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    out = []
    for t in src.lifecycle.transitions(uc.key):
        if t["move"] == "return" or not (t["passed"] or t["overridden"]):
            continue
        how = "overridden" if t["overridden"] else "passed"
        label = f"gate phase {t['from_phase']} → {t['to_phase']} {how} by {t['decided_by']}"
        day = _day(t["decided_at"])
        if day is not None:
            out.append(
                EvidenceItem(
                    K.GATE_DECISION,
                    label,
                    day,
                    uc.key,
                    owner=t["decided_by"],
                    link=_uc_link(uc, "history"),
                    ref=str(t["id"]),
                )
            )
    return out


def performance_reviews(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    out = []
    for r in src.lifecycle.reviews(uc.key):
        day = _day(r["completed_at"])
        if day is not None:
            label = f"{r['kind']} review: {r['outcome']}"
            out.append(
                EvidenceItem(
                    K.PERFORMANCE_REVIEW,
                    label,
                    day,
                    uc.key,
                    owner=r.get("reviewed_by") or "",
                    link=_uc_link(uc, "reviews"),
                    ref=r["kind"],
                )
            )
    return out


def risk_register(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    risks = src.lifecycle.risks(uc.key)
    days = [d for d in (_day(r.get("assessed_on") or r.get("updated_on")) for r in risks) if d]
    if not risks:
        return []
    dated = max(days) if days else _registered_on(src, uc)
    if dated is None:
        return []
    label = f"risk register: {len(risks)} risk(s) with residual ratings"
    return [EvidenceItem(K.RISK_ASSESSMENT, label, dated, uc.key, link=_uc_link(uc, "risks"), ref="risks")]


def _registered_on(src: EvidenceSources, uc: UseCase) -> date | None:
    found = src.lifecycle.get_use_case(uc.key)
    if found is None:
        return None
    return _day(found[1].get("updated_at") or found[1].get("created_at"))


def training(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    latest: dict[str, tuple[date, int]] = {}
    for r in src.lifecycle.training_records(uc.key):
        day = _day(r["completed_on"])
        if day is None:
            continue
        before, n = latest.get(r["course"], (day, 0))
        latest[r["course"]] = (max(before, day), n + 1)
    return [
        EvidenceItem(
            K.TRAINING_COMPLETION,
            f"course {course}: {n} completion(s)",
            day,
            uc.key,
            link=_uc_link(uc, "training"),
            ref=course,
        )
        for course, (day, n) in sorted(latest.items())
    ]


def human_reviews(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    mine = [wf for wf, key in src.workflows.items() if key == uc.key]
    return [
        EvidenceItem(
            K.HUMAN_REVIEW,
            f"workflow {d['workflow']}: {d['decided']} decided review item(s)",
            d["dated"],
            uc.key,
            link="/reviews",
            ref=d["workflow"],
        )
        for d in src.records.review_decisions(mine)
    ]


def audit_trail(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    span = src.records.audit_span()
    if span is None:
        return []
    label = f"hash-chained audit log: {span['entries']} entries since {span['first'].isoformat()}"
    return [EvidenceItem(K.AUDIT_TRAIL, label, span["last"], None, link="/audit", ref="audit")]


def retention(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    """Log retention counts when every log table keeps its rows six months or more (or forever)."""
    policies = src.records.retention_policies()
    short = [t for t in LOG_TABLES if t in policies and policies[t]["days"] < LOG_RETENTION_MIN_DAYS]
    if short or not policies:
        return []
    day = max(_day(p["updated_at"]) or date.min for p in policies.values())
    kept = ", ".join(f"{t} {policies[t]['days']} days" if t in policies else f"{t} kept" for t in LOG_TABLES)
    return [
        EvidenceItem(
            K.RETENTION_POLICY,
            f"retention policies: {kept}",
            day,
            None,
            link="/compliance/retention",
            ref="retention",
        )
    ]


def notices(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            K.WORKER_NOTICE,
            f"{n['kind']} notice issued by {n['issued_by']}",
            _day(n["issued_on"]) or date.min,
            uc.key,
            owner=n["issued_by"],
            link=f"/use-cases/{uc.key}/notice",
            ref=str(n["id"]),
        )
        for n in src.records.notices(uc.key)
    ]


def management_reviews(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            K.MANAGEMENT_REVIEW,
            f"management review: {m['title']}",
            _day(m["held_on"]) or date.min,
            None,
            owner=m["recorded_by"],
            link="/compliance/management-reviews",
            ref=str(m["id"]),
        )
        for m in src.records.management_reviews()
    ]


def documents(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    return [
        EvidenceItem(
            K.DOCUMENT,
            f"document {d['title']} ({d['filename']})",
            _day(d["dated"]) or date.min,
            d["use_case"],
            owner=d["owner"],
            expires=_day(d["expires"]),
            link=f"/api/v1/evidence/{d['id']}/file",
            control=d["control"],
            ref=str(d["id"]),
        )
        for d in src.records.documents(uc.key)
    ]


def _latest(docs: list[dict[str, Any]], name: str) -> date | None:
    days = [d for d in (_day(doc.get(name)) for doc in docs) if d is not None]
    return max(days) if days else None


def monitoring_alerts(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    """Alerts raised for the use case show its production monitoring runs (post-market monitoring)."""
    repo = src.extra.get("alerts")
    alerts = repo.list_alerts(use_case=uc.key) if repo is not None else []
    day = _latest(alerts, "last_seen")
    if day is None:
        return []
    label = f"monitoring: {len(alerts)} alert(s) raised, latest {day.isoformat()}"
    return [EvidenceItem(K.MONITORING_ALERT, label, day, uc.key, link="/monitoring", ref="alerts")]


def incidents(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    """Resolved incidents (handled and recorded) and their retrospectives."""
    repo = src.extra.get("incidents")
    out = []
    for doc in repo.list_incidents(use_case=uc.key) if repo is not None else []:
        resolved = _day(doc.get("resolved_at"))
        if resolved is None:
            continue
        link = f"/incidents/{doc['id']}"
        label = f"incident #{doc['id']} ({doc['severity']}) resolved: {doc['title']}"
        out.append(
            EvidenceItem(
                K.INCIDENT,
                label,
                resolved,
                uc.key,
                owner=doc.get("owner") or "",
                link=link,
                ref=str(doc["id"]),
            )
        )
        if doc.get("retrospective"):
            day = _day(doc.get("closed_at")) or resolved
            text = f"retrospective of incident #{doc['id']}"
            out.append(
                EvidenceItem(K.INCIDENT_RETROSPECTIVE, text, day, uc.key, link=link, ref=str(doc["id"]))
            )
    return out


def model_registry(src: EvidenceSources, uc: UseCase) -> list[EvidenceItem]:
    """Models of the use case registered with their versions (lineage, cards, stages)."""
    repo = src.extra.get("models")
    if repo is None:
        return []
    out = []
    for model in repo.list_models():
        if model.get("use_case") != uc.key:
            continue
        versions = repo.versions(model["name"])
        day = _latest(versions, "created_at") or _day(model.get("created_at"))
        if day is not None:
            label = f"model {model['name']}: {len(versions)} registered version(s)"
            out.append(
                EvidenceItem(
                    K.MODEL_REGISTRY, label, day, uc.key, link=f"/models/{model['name']}", ref=model["name"]
                )
            )
    return out


for _name, _provider in (
    ("pilot_reports", pilot_reports),
    ("signoffs", signoffs),
    ("gate_decisions", gate_decisions),
    ("performance_reviews", performance_reviews),
    ("risk_register", risk_register),
    ("training", training),
    ("human_reviews", human_reviews),
    ("audit_trail", audit_trail),
    ("retention", retention),
    ("notices", notices),
    ("management_reviews", management_reviews),
    ("documents", documents),
    ("monitoring_alerts", monitoring_alerts),
    ("incidents", incidents),
    ("model_registry", model_registry),
):
    register_evidence(_name, _provider)
