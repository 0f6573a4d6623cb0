"""Frameworks and controls, their applicability to use cases, control status from evidence,
uploaded evidence documents, audit findings and management reviews.

Built-in catalogues (NIST AI RMF, ISO/IEC 42001 outline, EU AI Act deployer duties) ship as
YAML in ``paceline/catalogues``; a workspace *adopts* them, and a firm imports its own with the
same format (YAML or JSON). Import is idempotent: the same file twice changes nothing.
Managing needs ``governance.manage`` (program managers, security, admins); uploading evidence
``evidence.upload``; reading ``workspace.read`` on the use case. Every change is audited.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

import yaml

from paceline.domain import ai_act, notices
from paceline.domain.controls import (
    Control,
    ControlState,
    ControlStatus,
    Framework,
    applicable,
    control_status,
    parse_framework,
)
from paceline.domain.kpis import KPIS
from paceline.domain.notices import Notice
from paceline.domain.roles import Action
from paceline.domain.usecases import UseCase
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal
from paceline.services.evidence import EvidenceRecords, EvidenceSources, collect
from paceline.services.lifecycle import LifecycleService
from paceline.services.parsing import parse_date

MAX_IMPORT_BYTES = 2_000_000
DEFAULT_MAX_UPLOAD = 20_000_000
SEVERITIES = ("low", "medium", "high", "critical")
GLOBAL_READERS = frozenset({"program-manager", "security", "auditor", "admin"})
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class GovernanceRepository(EvidenceRecords, Protocol):
    def frameworks(self) -> list[Framework]: ...
    def framework_digest(self, key: str) -> str | None: ...
    def save_framework(self, fw: Framework, origin: str, digest: str, by: str) -> dict[str, int]: ...
    def document(self, doc_id: int) -> dict[str, Any] | None: ...
    def add_document(self, doc: dict[str, Any], by: str) -> dict[str, Any]: ...
    def findings(self, use_case: str | None = None) -> list[dict[str, Any]]: ...
    def finding(self, finding_id: int) -> dict[str, Any] | None: ...
    def add_finding(self, doc: dict[str, Any], by: str) -> dict[str, Any]: ...
    def update_finding(self, finding_id: int, changes: dict[str, Any]) -> dict[str, Any]: ...
    def management_review(self, review_id: int) -> dict[str, Any] | None: ...
    def add_management_review(self, doc: dict[str, Any], by: str) -> dict[str, Any]: ...
    def update_management_review(self, review_id: int, actions: list[dict[str, Any]]) -> dict[str, Any]: ...
    def save_retention_policy(self, table: str, days: int, by: str) -> None: ...
    def add_retention_run(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def retention_runs(self, limit: int = 200) -> list[dict[str, Any]]: ...
    def add_notice(self, doc: dict[str, Any], by: str) -> dict[str, Any]: ...


def builtin_catalogues() -> dict[str, str]:
    """The shipped catalogue files: framework key -> YAML text."""
    folder = files("paceline") / "catalogues"
    out = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            out[item.name.removesuffix(".yaml")] = item.read_text(encoding="utf-8")
    return out


def read_framework_text(text: str, name: str = "file") -> tuple[Framework, str]:
    """Parse YAML or JSON text (JSON is YAML) into a validated framework and its content digest."""
    if len(text.encode("utf-8")) > MAX_IMPORT_BYTES:
        raise ValidationError(f"{name} is larger than {MAX_IMPORT_BYTES} bytes", field="file")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError(
            f"{name} is not valid YAML or JSON{where}: {problem}",
            field="file",
            fix="check the indentation and quoting",
        ) from None
    fw = parse_framework(doc)
    digest = hashlib.sha256(json.dumps([fw.to_dict()], sort_keys=True).encode()).hexdigest()
    return fw, digest


@dataclass(frozen=True)
class UseCaseProfile:
    """What applicability rules read from a use case."""

    key: str
    tier: str
    categories: tuple[str, ...]
    phase: int

    @classmethod
    def of(cls, uc: UseCase) -> UseCaseProfile:
        tier = ai_act.classify(uc.ai_act).tier.value
        return cls(uc.key, tier, tuple(c.value for c in uc.data_categories), int(uc.phase))


class GovernanceService:
    """Frameworks, controls and evidence for the use cases a principal may read."""

    def __init__(
        self,
        repo: GovernanceRepository,
        sources: EvidenceSources,
        files_dir: Path | None = None,
        max_upload: int = DEFAULT_MAX_UPLOAD,
        min_group_size: int = 5,
    ) -> None:
        self.repo, self.sources = repo, sources
        self.records = LifecycleService(sources.lifecycle)
        self.files_dir, self.max_upload, self.min_group_size = files_dir, max_upload, min_group_size

    # --- frameworks ---------------------------------------------------------------------
    def frameworks(self, by: Principal) -> list[Framework]:
        by.require(Action.READ)
        return self.repo.frameworks()

    def framework(self, by: Principal, key: str) -> Framework:
        for fw in self.frameworks(by):
            if fw.key == key:
                return fw
        raise NotFound(f"no framework {key!r}", fix="adopt a catalogue: paceline governance adopt --list")

    def adopt(self, by: Principal, key: str) -> dict[str, Any]:
        """Adopt a built-in catalogue (idempotent); returns the import counts."""
        catalogues = builtin_catalogues()
        if key not in catalogues:
            raise ValidationError(
                f"no built-in catalogue {key!r}",
                field="framework",
                fix=f"use one of: {', '.join(catalogues)}",
            )
        return self._store(by, catalogues[key], f"{key}.yaml", "builtin")

    def import_text(self, by: Principal, text: str, name: str = "file") -> dict[str, Any]:
        """Import a firm's own framework from YAML or JSON text (idempotent by content)."""
        return self._store(by, text, name, "import")

    def _store(self, by: Principal, text: str, name: str, origin: str) -> dict[str, Any]:
        by.require(Action.GOVERNANCE_MANAGE)
        fw, digest = read_framework_text(text, name)
        if self.repo.framework_digest(fw.key) == digest:
            counts = {"created": 0, "updated": 0, "unchanged": len(fw.controls), "removed": 0}
        else:
            counts = self.repo.save_framework(fw, origin, digest, by.actor)
        return {"framework": fw.key, "title": fw.title, "controls": len(fw.controls), **counts}

    def controls(self, by: Principal) -> list[Control]:
        return [c for fw in self.frameworks(by) for c in fw.controls]

    def control(self, by: Principal, ref: str) -> Control:
        for c in self.controls(by):
            if c.ref == ref:
                return c
        raise NotFound(
            f"no control {ref!r}", fix="controls are named framework/id, e.g. nist-ai-rmf/GOVERN 1.1"
        )

    # --- status -------------------------------------------------------------------------------
    def use_case(self, by: Principal, key: str) -> UseCase:
        return self.records.get(by, key)

    def readable_use_cases(self, by: Principal) -> list[UseCase]:
        return [u for u in self.records.list(by)]

    def statuses(
        self, by: Principal, key: str, today: date, controls: list[Control] | None = None
    ) -> list[ControlStatus]:
        """The status of every control that applies to use case *key* on *today*."""
        uc = self.use_case(by, key)
        return self.statuses_of(uc, today, self.controls(by) if controls is None else controls)

    def statuses_of(self, uc: UseCase, today: date, controls: list[Control]) -> list[ControlStatus]:
        p = UseCaseProfile.of(uc)
        evidence = collect(self.sources, uc)
        return [
            control_status(c, evidence, uc.key, today)
            for c in applicable(controls, p.tier, p.categories, p.phase)
        ]

    def control_view(self, by: Principal, ref: str, today: date) -> dict[str, Any]:
        """A control with its status and evidence for each readable use case it applies to."""
        control = self.control(by, ref)
        rows = []
        for uc in self.readable_use_cases(by):
            found = self.statuses_of(uc, today, [control])
            if found:
                rows.append({**found[0].to_dict(today), "use_case": uc.key, "use_case_title": uc.title})
        docs = [
            d
            for d in self.repo.documents(None, ref)
            if d["use_case"] is None or by.can(Action.READ, d["use_case"])
        ]
        return {"control": control.to_dict(), "use_cases": rows, "documents": docs}

    def summary(self, statuses: list[ControlStatus]) -> dict[str, int]:
        counts = {s.value: 0 for s in ControlState}
        for s in statuses:
            counts[s.state.value] += 1
        return {"applicable": len(statuses), **counts}

    # --- uploaded documents ----------------------------------------------------------------
    def upload(
        self,
        by: Principal,
        content: bytes,
        filename: str,
        title: str,
        owner: str,
        dated: date | str,
        use_case: str | None = None,
        control: str | None = None,
        expires: date | str | None = None,
    ) -> dict[str, Any]:
        """Store a document in the workspace under its SHA-256 and file it as evidence."""
        by.require(Action.EVIDENCE_UPLOAD, use_case)
        if use_case is None and not by.is_global:
            raise PermissionDenied(
                f"{by.login} may upload evidence for their own use cases only", fix="choose a use case"
            )
        if use_case is not None:
            self.use_case(by, use_case)
        if control is not None:
            self.control(by, control)
        if not content:
            raise ValidationError("the file is empty", field="file", fix="choose the document to upload")
        if len(content) > self.max_upload:
            raise ValidationError(
                f"the file has {len(content)} bytes; at most {self.max_upload} are accepted",
                field="file",
                fix="upload a smaller file or raise evidence_max_bytes in the settings",
            )
        day = _date(dated, "dated")
        until = _date(expires, "expires") if expires else None
        if until is not None and until <= day:
            raise ValidationError(
                f"expires {until} is not after dated {day}", field="expires", value=str(until)
            )
        digest = hashlib.sha256(content).hexdigest()
        self._write_file(digest, content)
        doc = {
            "use_case": use_case,
            "control": control,
            "title": _required(title, "title", 200),
            "filename": (SAFE_NAME.sub("_", Path(filename).name) or "document")[:200],
            "sha256": digest,
            "size": len(content),
            "owner": _required(owner, "owner", 200),
            "dated": day,
            "expires": until,
        }
        return self.repo.add_document(doc, by.actor)

    def _write_file(self, digest: str, content: bytes) -> None:
        if self.files_dir is None:
            raise ValidationError("this workspace has no evidence folder", field="file")
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / digest
        if path.exists():
            return  # the same bytes are stored once
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)

    def document(self, by: Principal, doc_id: int) -> tuple[dict[str, Any], Path]:
        """A document's record and the path of its stored file (after checking its hash)."""
        doc = self.repo.document(doc_id)
        if doc is None:
            raise NotFound(f"no evidence document {doc_id}")
        by.require(Action.READ, doc["use_case"])
        if self.files_dir is None:
            raise NotFound(f"the file of document {doc_id} is not stored here")
        path = self.files_dir / doc["sha256"]
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != doc["sha256"]:
            raise NotFound(f"the file of document {doc_id} is missing or changed", fix="upload it again")
        return doc, path

    def documents(self, by: Principal, use_case: str | None = None) -> list[dict[str, Any]]:
        by.require(Action.READ, use_case)
        return [d for d in self.repo.documents(use_case) if by.can(Action.READ, d["use_case"])]

    # --- notices ------------------------------------------------------------------------------
    def notice(self, by: Principal, key: str, kind: str = "worker") -> Notice:
        """The worker-information notice or the data-protection note of use case *key*."""
        if kind not in notices.KINDS:
            raise ValidationError(f"kind {kind!r} is not one of: {', '.join(notices.KINDS)}", field="kind")
        uc = self.use_case(by, key)
        named = {role for role, people in self.sources.lifecycle.stakeholders(key).items() if people}
        policies = self.repo.retention_policies()
        facts = notices.NoticeFacts(
            tier=ai_act.classify(uc.ai_act),
            kpis=[k for k in KPIS.values() if k.people_based],
            min_group_size=self.min_group_size,
            workflows=sorted(wf for wf, owner in self.sources.workflows.items() if owner == key),
            retention={
                t: (policies[t]["days"] if t in policies else None)
                for t in ("cases", "review_tasks", "step_runs")
            },
            readers=sorted(named | GLOBAL_READERS),
        )
        return notices.build(kind, uc, facts)

    def issue_notice(
        self, by: Principal, key: str, kind: str = "worker", on: date | None = None
    ) -> dict[str, Any]:
        """Record that the notice as it reads now was issued (SHA-256, who, when): evidence of Art. 26(7)."""
        by.require(Action.EVIDENCE_UPLOAD, key)
        text = self.notice(by, key, kind).to_markdown()
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self.repo.add_notice(
            {"use_case": key, "kind": kind, "sha256": digest, "issued_on": on or date.today()}, by.actor
        )

    # --- audit findings ----------------------------------------------------------------------
    def findings(self, by: Principal, use_case: str | None = None) -> list[dict[str, Any]]:
        by.require(Action.READ, use_case)
        return [f for f in self.repo.findings(use_case) if by.can(Action.READ, f["use_case"])]

    def raise_finding(self, by: Principal, doc: dict[str, Any]) -> dict[str, Any]:
        """Record an internal-audit finding: title, severity, owner, raised_on, due, optional actions."""
        by.require(Action.GOVERNANCE_MANAGE)
        _known(
            doc,
            {"title", "detail", "severity", "owner", "raised_on", "due", "use_case", "control", "actions"},
        )
        use_case, control = doc.get("use_case") or None, doc.get("control") or None
        if use_case is not None:
            self.use_case(by, use_case)
        if control is not None:
            self.control(by, control)
        severity = doc.get("severity")
        if severity not in SEVERITIES:
            raise ValidationError(
                f"severity {severity!r} is not one of: {', '.join(SEVERITIES)}",
                field="severity",
                value=severity,
            )
        raised = _date(doc.get("raised_on") or date.today(), "raised_on")
        due = _date(doc["due"], "due") if doc.get("due") else None
        if due is not None and due < raised:
            raise ValidationError(f"due {due} is before raised_on {raised}", field="due", value=str(due))
        row = {
            "use_case": use_case,
            "control": control,
            "title": _required(doc.get("title"), "title", 200),
            "detail": str(doc.get("detail") or "")[:4000],
            "severity": severity,
            "owner": _required(doc.get("owner"), "owner", 200),
            "raised_on": raised,
            "due": due,
            "closed_on": None,
            "actions": parse_actions(doc.get("actions") or []),
        }
        return self.repo.add_finding(row, by.actor)

    def update_finding(self, by: Principal, finding_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Add actions, mark actions done, change owner or due date, close or reopen a finding."""
        by.require(Action.GOVERNANCE_MANAGE)
        found = self.repo.finding(finding_id)
        if found is None:
            raise NotFound(f"no audit finding {finding_id}")
        _known(changes, {"owner", "due", "closed_on", "reopen", "add_actions", "done"})
        out: dict[str, Any] = {}
        if "owner" in changes:
            out["owner"] = _required(changes["owner"], "owner", 200)
        if changes.get("due"):
            out["due"] = _date(changes["due"], "due")
        actions = list(found["actions"])
        actions += parse_actions(changes.get("add_actions") or [])
        for index in changes.get("done") or []:
            if not isinstance(index, int) or not 0 <= index < len(actions):
                raise ValidationError(
                    f"done: no action number {index!r}", field="done", fix=f"use 0-{len(actions) - 1}"
                )
            actions[index] = {**actions[index], "done_on": date.today().isoformat()}
        out["actions"] = actions
        if changes.get("closed_on"):
            closed = _date(changes["closed_on"], "closed_on")
            if closed < date.fromisoformat(found["raised_on"]):
                raise ValidationError(f"closed_on {closed} is before raised_on", field="closed_on")
            out["closed_on"] = closed
        if changes.get("reopen"):
            out["closed_on"] = None
        return self.repo.update_finding(finding_id, out)

    # --- management reviews ---------------------------------------------------------------------
    def management_reviews(self, by: Principal) -> list[dict[str, Any]]:
        by.require(Action.READ)
        return self.repo.management_reviews()

    def record_management_review(self, by: Principal, doc: dict[str, Any]) -> dict[str, Any]:
        """A management review: when, who attended, what was decided and the actions with owners."""
        by.require(Action.GOVERNANCE_MANAGE)
        _known(doc, {"held_on", "title", "attendees", "decisions", "actions"})
        attendees = doc.get("attendees") or []
        if not isinstance(attendees, list) or not all(isinstance(a, str) and a.strip() for a in attendees):
            raise ValidationError("attendees must be a list of names", field="attendees", value=attendees)
        row = {
            "held_on": _date(doc.get("held_on") or date.today(), "held_on"),
            "title": _required(doc.get("title"), "title", 200),
            "attendees": [a.strip() for a in attendees],
            "decisions": str(doc.get("decisions") or "")[:8000],
            "actions": parse_actions(doc.get("actions") or []),
        }
        return self.repo.add_management_review(row, by.actor)


def _known(doc: dict[str, Any], names: set[str]) -> None:
    if not isinstance(doc, dict):
        raise ValidationError("the body must be an object", field="body")
    unknown = sorted(set(doc) - names)
    if unknown:
        raise ValidationError(
            f"{unknown[0]} is not a field here", field=unknown[0], fix=f"use {', '.join(sorted(names))}"
        )


def _required(value: Any, name: str, limit: int) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValidationError(f"{name} is required", field=name)
    if len(text) > limit:
        raise ValidationError(f"{name} is {len(text)} characters long; at most {limit}", field=name)
    return text


def _date(value: date | str, name: str) -> date:
    return value if isinstance(value, date) else parse_date(str(value), name)


def parse_actions(items: Any) -> list[dict[str, Any]]:
    """Actions as ``{action, owner, due, done_on}``; each needs an action and an owner."""
    if not isinstance(items, list):
        raise ValidationError("actions must be a list", field="actions", value=items)
    out = []
    for i, item in enumerate(items):
        where = f"actions[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where} must be an object with action, owner and due", field=where)
        _known(item, {"action", "owner", "due", "done_on"})
        due = _date(item["due"], f"{where}.due") if item.get("due") else None
        done = _date(item["done_on"], f"{where}.done_on") if item.get("done_on") else None
        out.append(
            {
                "action": _required(item.get("action"), f"{where}.action", 500),
                "owner": _required(item.get("owner"), f"{where}.owner", 200),
                "due": due.isoformat() if due else None,
                "done_on": done.isoformat() if done else None,
            }
        )
    return out
