"""The workspace: where settings, the secret, the stores and the services are wired.

This is the one place that turns settings into real adapters (SQLAlchemy store,
Parquet warehouse) and hands them to services. The CLI, the web app and library
users all start here.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from paceline.analytics.drift import DriftPolicy, DriftReport
from paceline.domain.alerts import Reading
from paceline.domain.audit_chain import ChainCheck, verify_chain
from paceline.domain.audit_formats import AuditRecord
from paceline.domain.compliance_score import IncidentFact
from paceline.domain.compliance_score import Thresholds as ScoreThresholds
from paceline.domain.kpis import Grain, Stat
from paceline.domain.privacy import pseudonymise
from paceline.domain.redaction import Redactor, is_sensitive
from paceline.domain.roles import Action
from paceline.domain.tables import TABLES
from paceline.errors import NotFound, PermissionDenied, ValidationError, WorkspaceNotFound
from paceline.runtime import privacy
from paceline.runtime.engine import Runtime
from paceline.runtime.export import export_events
from paceline.runtime.registry import REGISTRY
from paceline.services.access import AccessService, Principal, operator, require_certified
from paceline.services.alert_channels import (
    DeliveryReport,
    NotificationDispatcher,
    SmtpSettings,
    global_channels,
    senders,
)
from paceline.services.alerting import AlertService
from paceline.services.audit_checkpoints import CheckpointService
from paceline.services.audit_export import AuditExportService, ExportOptions
from paceline.services.compliance import ComplianceService, compliance_evidence, incident_facts
from paceline.services.dashboard import overview
from paceline.services.drift_windows import WindowRequest, model_use_cases, monitor_drift, parse_every
from paceline.services.enablement import EnablementService
from paceline.services.enablement_network import NetworkService
from paceline.services.evidence import EvidenceSources
from paceline.services.gate_service import GateService
from paceline.services.governance import GovernanceService
from paceline.services.incidents import IncidentService
from paceline.services.kpi import KpiResult, compute_many, definition
from paceline.services.kpi_explain import Comparison, Explanation, Sides, compare, explain
from paceline.services.kpi_frames import KpiQuery
from paceline.services.lifecycle import LifecycleService
from paceline.services.lifecycle_records import RegistryMonitoring
from paceline.services.model_performance import performance_report
from paceline.services.model_readings import ModelReadings, WatchedModel
from paceline.services.model_registry import ModelRegistryService
from paceline.services.model_tiles import DASHBOARD_DRIFT_WINDOWS, drift_summary
from paceline.services.monitor_readings import MonitorReadings
from paceline.services.oidc import OidcClient, OidcConfig
from paceline.services.parsing import parse_choice, parse_date
from paceline.services.pilot_eval import evaluate_recorded
from paceline.services.pilot_plan import plan_pilot
from paceline.services.pilots import PilotService
from paceline.services.program import ProgramService
from paceline.services.program_facts import ProgramFacts
from paceline.services.retention import RetentionService
from paceline.services.training import TrainingReport, record_training
from paceline.services.training_outcomes import OUTCOME_KPIS
from paceline.services.training_outcomes import estimate as outcome_estimate
from paceline.settings import SETTINGS_FILE, Settings, load_settings
from paceline.storage import audit, records
from paceline.storage.access_repo import SqlAccessRepository
from paceline.storage.alert_repo import SqlAlertRepository, SqlIncidentRepository, SqlRuntimeFigures
from paceline.storage.audit_export_repo import (
    EntryFilter,
    SqlAuditExportStore,
    SqlChainReader,
    record_checkpoint,
    search_entries,
)
from paceline.storage.db import Store
from paceline.storage.enablement_repo import SqlEnablementRepository
from paceline.storage.governance_repo import SqlGovernanceRepository, SqlRetentionJobs, use_case_categories
from paceline.storage.ingest import IngestReport, Progress, ingest_files
from paceline.storage.kpi_cache import ResultCache, generation
from paceline.storage.lifecycle_repo import SqlLifecycleRepository
from paceline.storage.model_repo import SqlModelRepository, review_decisions
from paceline.storage.models import IngestRun
from paceline.storage.pilot_repo import SqlPilotRepository
from paceline.storage.warehouse import Warehouse

SECRET_FILE = "secret.key"
MARKER_KEYS = ("min_group_size", "currency")


class _ScopedSource:
    """The workspace as the overview's source, showing only the use cases a principal may read."""

    def __init__(self, ws: Workspace, who: Principal) -> None:
        self.ws, self.who = ws, who

    def run_kpis(self, queries: Sequence[KpiQuery]) -> list[KpiResult]:
        return self.ws.run_kpis(queries)

    def use_cases(self) -> list[str]:
        return [u for u in self.ws.use_cases() if self.who.can(Action.READ, u)]

    def compliance_scores(self, scopes: Sequence[str | None]) -> dict[str | None, dict[str, Any]]:
        """KPI 8 of each scope that is in the inventory (the program for a global principal)."""
        return self.ws.compliance_scores(scopes, self.who)

    def model_monitoring(self, use_cases: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """KPI 7: the production models of these use cases with their cached performance and drift."""
        return self.ws.model_monitoring(use_cases, self.who)

    def ai_start_dates(self) -> dict[str, date]:
        return self.ws.ai_start_dates()

    def sees_program(self) -> bool:
        """Program-wide figures mix every use case: only for principals with a global grant."""
        return self.who.is_global


def _cached_doc(result: KpiResult) -> dict[str, Any]:
    return {"rows": result.rows, "weights": result.weights}


def _date(value: date | str | None, name: str) -> date | None:
    return parse_date(value, name) if isinstance(value, str) else value


def _write_secret(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))


class Workspace:
    """An opened workspace. Use :meth:`init` to create one and :meth:`open` to use one.

    Example:
        >>> ws = Workspace.init("/tmp/example-ws")          # doctest: +SKIP
        >>> ws.ingest("task_events", "tasks.csv").loaded    # doctest: +SKIP
        963
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home
        self.secret = (self.home / SECRET_FILE).read_bytes()
        self.store = Store.open(settings.resolved_database_url())
        self.warehouse = Warehouse(settings.warehouse_dir, settings.resolved_warehouse())
        self.warehouse.ensure_layout()
        self._local = threading.local()
        self.kpi_cache = ResultCache(self.home / "cache" / "kpi")
        privacy.install(self.store, self._privacy())

    @classmethod
    def init(cls, path: str | Path | None = None, **settings: Any) -> Workspace:
        """Create the workspace at *path* (default ``$PACELINE_HOME`` or ``./.paceline``).

        Idempotent: an existing workspace keeps its secret, data and settings.
        """
        loaded = load_settings(Path(path) if path is not None else None)
        home = loaded.home
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        if not (home / SECRET_FILE).exists():
            _write_secret(home / SECRET_FILE)
        settings_path = home / SETTINGS_FILE
        if not settings_path.exists():
            values = {k: getattr(loaded, k) for k in MARKER_KEYS} | settings
            settings_path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
        return cls(load_settings(home))

    @classmethod
    def open(cls, path: str | Path | None = None) -> Workspace:
        """Open an existing workspace, or raise :class:`WorkspaceNotFound`."""
        settings = load_settings(Path(path) if path is not None else None)
        if not (settings.home / SECRET_FILE).exists():
            raise WorkspaceNotFound(
                f"no Paceline workspace at {settings.home}",
                fix="run 'paceline init' (or set PACELINE_HOME to an existing workspace)",
            )
        return cls(settings)

    @staticmethod
    def exists(path: str | Path | None = None) -> bool:
        home = load_settings(Path(path) if path is not None else None).home
        return (home / SECRET_FILE).exists()

    # --- services -----------------------------------------------------------

    @contextmanager
    def access(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[AccessService]:
        """The access service inside one audited transaction (or a read-only session)."""
        if readonly:
            with self.store.read() as session:
                yield AccessService(SqlAccessRepository(session))
            return
        with self.store.write((by or operator()).actor) as session:
            yield AccessService(SqlAccessRepository(session))

    @contextmanager
    def pilots(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[PilotService]:
        """The pilot service inside one audited transaction (or a read-only session)."""
        if readonly:
            with self.store.read() as session:
                yield PilotService(SqlPilotRepository(session))
            return
        with self.store.write((by or operator()).actor) as session:
            yield PilotService(SqlPilotRepository(session))

    @contextmanager
    def lifecycle(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[LifecycleService]:
        """The use-case inventory and lifecycle records, in one audited transaction (or read-only)."""
        with self._session(by, readonly) as session:
            yield LifecycleService(SqlLifecycleRepository(session))

    @contextmanager
    def alerts(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[AlertService]:
        """Alert rules and alerts, in one audited transaction (or read-only)."""
        defaults = global_channels(self.settings.alert_webhook_url, self.settings.alert_email_to)
        with self._session(by, readonly) as session:
            yield AlertService(SqlAlertRepository(session), defaults)

    @contextmanager
    def incidents(
        self,
        by: Principal | None = None,
        *,
        readonly: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> Iterator[IncidentService]:
        """Incidents with their timelines and linked alerts, in one audited transaction (or read-only).

        *clock* dates the changes (the demo replays its incident at the firm's own dates)."""
        with self._session(by, readonly) as session:
            repo = SqlIncidentRepository(session)
            yield IncidentService(repo, clock) if clock else IncidentService(repo)

    def evaluate_alerts(
        self,
        by: Principal | None = None,
        readings: Sequence[Reading] = (),
        *,
        compute: bool = True,
        notify: bool = True,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """``alert evaluate``: the readings Paceline computes (with *compute*) plus *readings*, judged
        by the enabled rules; then (with *notify*) the due notifications are sent."""
        principal, at = by or operator(), now or datetime.now(UTC)
        with self.alerts(principal, readonly=True) as alerts:
            rules = alerts.enabled_rules(principal)
        computed = self.monitor_readings().readings(rules, at) if compute else []
        computed += self.model_readings(principal).readings(rules, at) if compute else []
        with self.alerts(principal) as alerts:
            result = alerts.evaluate(principal, [*computed, *readings], at).to_dict()
        result["delivery"] = self.deliver_notifications().to_dict() if notify else None
        return result

    def model_readings(self, who: Principal | None = None) -> ModelReadings:
        """Drift and performance readings of the models with a production version."""
        principal = who or operator()
        with self.models(readonly=True) as registry:
            watched = [
                WatchedModel(m["name"], m["use_case"]) for m in registry.list(principal) if m["production"]
            ]

        def drift_of(model: str, days: tuple[date, date]) -> DriftReport:
            return self.drift_windows(model, current=days, who=principal)[0]

        def performance_of(model: str, first: date, last: date) -> dict[str, Any]:
            return self.model_performance(model, principal, grain="total", since=first, until=last)

        return ModelReadings(watched, drift_of, performance_of)

    def monitor_readings(self) -> MonitorReadings:
        """The readings of the runtime (operational store) and of the predictions (warehouse)."""

        @contextmanager
        def figures() -> Iterator[SqlRuntimeFigures]:
            with self.store.read() as session:
                yield SqlRuntimeFigures(session)

        def use_case_of(workflow: str) -> str | None:
            try:
                return REGISTRY.get(workflow).use_case or None
            except NotFound:
                return None

        return MonitorReadings(figures, self.warehouse_connection, use_case_of)

    def deliver_notifications(self, batch: int = 100) -> DeliveryReport:
        """Send the due alert notifications (webhook, e-mail) with retries; see docs/monitoring.md."""
        s = self.settings
        smtp = SmtpSettings(
            s.smtp_host, s.smtp_port, s.smtp_user, s.smtp_password, s.smtp_starttls, s.smtp_from,
            s.notify_timeout_seconds,
        )  # fmt: skip

        @contextmanager
        def outbox() -> Iterator[SqlAlertRepository]:
            with self.store.write("system:notifier") as session:
                yield SqlAlertRepository(session)

        with httpx.Client(timeout=s.notify_timeout_seconds) as client:
            dispatcher = NotificationDispatcher(
                outbox, senders(smtp, client), s.notify_max_attempts, s.notify_backoff_seconds
            )
            return dispatcher.deliver_due(batch)

    @contextmanager
    def models(
        self, by: Principal | None = None, *, readonly: bool = False
    ) -> Iterator[ModelRegistryService]:
        """The model registry (versions, stages, approvals, cards, schedules), in one audited transaction."""
        with self._session(by, readonly) as session:
            yield ModelRegistryService(SqlModelRepository(session))

    def model_performance(self, model: str, who: Principal | None = None, **options: Any) -> dict[str, Any]:
        """Realized and estimated performance of *model* per period and segment, and its override rate.

        *options*: grain, segment, since, until, bins, exact_auc (and task/positive for an
        unregistered model); see :func:`paceline.services.model_performance.parse_query`.
        """
        principal = who or operator()
        with self.models(readonly=True) as registry:
            registered = registry.find(principal, model)

        def decisions(since: Any, until: Any) -> list[dict[str, Any]]:
            with self.store.read() as session:
                return review_decisions(session, model, since, until)

        def cached(key: str, compute: Any) -> dict[str, Any]:
            data = generation(self.warehouse, ("predictions", "labels"))
            return self.kpi_cache.get_or_compute(f"model-performance|{key}|{data}", compute)

        con = self.warehouse_connection()
        return performance_report(con, principal, model, registered, decisions, cached, options)

    @contextmanager
    def gates(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[GateService]:
        """Gate checks on evidence from the records, the warehouse, the pilot engine and the registry."""
        principal = by or operator()
        with self._session(principal, readonly) as session:
            compliance = self._compliance(self._governance(session))
            yield GateService(
                SqlLifecycleRepository(session),
                self.program_facts(principal),
                compliance=lambda uc, day: compliance_evidence(compliance, principal, uc.key, day),
                enablement=self._enablement(session),
                monitoring=self._monitoring_records(session),
            )

    @contextmanager
    def program(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[ProgramService]:
        """Portfolio, assessments, risks, reviews, ROI and the use-case page (with its gate)."""
        principal = by or operator()
        with self._session(principal, readonly) as session:
            program = ProgramService(SqlLifecycleRepository(session), self.program_facts(principal))
            # the use-case page shows the gate: the same evidence as Workspace.gates
            compliance = self._compliance(self._governance(session))
            program.gates.compliance = lambda uc, day: compliance_evidence(compliance, principal, uc.key, day)
            program.gates.enablement = self._enablement(session)
            program.gates.monitoring = self._monitoring_records(session)
            yield program

    @staticmethod
    def _monitoring_records(session: Any) -> RegistryMonitoring:
        """The registry, alert rules and incidents the phase-5 gate and its deliverables read."""
        return RegistryMonitoring(
            SqlModelRepository(session), SqlAlertRepository(session), SqlIncidentRepository(session)
        )

    def redactor(self) -> Redactor:
        """The redaction of personal data set up in this workspace's settings."""
        return Redactor.build(self.settings.redaction_names, self.settings.redaction_patterns)

    def _sensitive_use_case(self, conn: Any, workflow: str) -> str | None:
        """The use case of *workflow* when it handles health or biometric data."""
        if workflow not in REGISTRY.names():
            return None
        key = REGISTRY.get(workflow).use_case
        categories = use_case_categories(conn, key)
        return key if categories is not None and is_sensitive(categories) else None

    def _privacy(self) -> privacy.Privacy:
        redactor = self.redactor()

        def redactor_for(conn: Any, workflow: str) -> Redactor | None:
            return redactor if self._sensitive_use_case(conn, workflow) else None

        def gate(session: Any, login: str, workflow: str) -> None:
            key = self._sensitive_use_case(session, workflow)
            if key is None:
                return
            user = SqlAccessRepository(session).get_user(login)
            if user is None:  # not a Paceline user: the workspace operator acting through the library
                return
            grants = user.grants if user.active else ()
            person = pseudonymise(self.secret, login)
            done = [
                date.fromisoformat(r["completed_on"])
                for r in SqlLifecycleRepository(session).training_records(key)
                if r["person_id"] == person
                and r["completed_on"]
                and (r["score"] is None or r["pass_mark"] is None or r["score"] >= r["pass_mark"])
            ]
            valid = self.settings.certification_valid_days
            require_certified(login, grants, key, done, date.today(), valid)

        return privacy.Privacy(redactor_for, gate)

    @contextmanager
    def governance(
        self, by: Principal | None = None, *, readonly: bool = False
    ) -> Iterator[GovernanceService]:
        """Frameworks, controls, evidence, findings and management reviews (one audited transaction)."""
        with self._session(by, readonly) as session:
            yield self._governance(session)

    @contextmanager
    def compliance(self, by: Principal | None = None) -> Iterator[ComplianceService]:
        """The compliance & risk score (KPI 8), read-only."""
        with self.store.read() as session:
            yield self._compliance(self._governance(session))

    @contextmanager
    def retention(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[RetentionService]:
        """Retention policies and the deletion job, in one audited transaction (or read-only)."""
        with self._session(by, readonly) as session:
            yield RetentionService(SqlGovernanceRepository(session), SqlRetentionJobs(session))

    def _governance(self, session: Any) -> GovernanceService:
        extra = {
            "alerts": SqlAlertRepository(session),
            "incidents": SqlIncidentRepository(session),
            "models": SqlModelRepository(session),
        }
        sources = EvidenceSources(
            SqlLifecycleRepository(session),
            SqlGovernanceRepository(session),
            {name: REGISTRY.get(name).use_case for name in REGISTRY.names()},
            extra,
        )
        repo = SqlGovernanceRepository(session)
        limit, k = self.settings.evidence_max_bytes, self.settings.min_group_size
        return GovernanceService(repo, sources, self.home / "evidence", limit, k)

    def _compliance(self, governance: GovernanceService) -> ComplianceService:
        limits = ScoreThresholds(self.settings.compliance_red_below, self.settings.compliance_amber_below)
        repo = governance.sources.extra["incidents"]

        def incidents(use_case: str | None) -> list[IncidentFact]:
            return incident_facts(repo.list_incidents(use_case=use_case, limit=100_000))

        return ComplianceService(governance, limits, incidents)

    def compliance_scores(
        self, scopes: Sequence[str | None], who: Principal | None = None
    ) -> dict[str | None, dict[str, Any]]:
        """KPI 8 with its trend for each scope: a use case in the inventory, or ``None`` (the program)."""
        principal = who or operator()
        today = date.today()
        with self.compliance(principal) as comp:
            known = {u.key for u in comp.gov.readable_use_cases(principal)}
            return {
                scope: comp.score(principal, scope, today)
                for scope in scopes
                if (scope is None and principal.is_global) or scope in known
            }

    def program_facts(self, who: Principal | None = None) -> ProgramFacts:
        """Warehouse and pilot figures as *who* may see them (KPIs and verdicts from the cache)."""
        principal = who or operator()

        def specs(use_case: str) -> list[Any]:
            with self.pilots(readonly=True) as pilots:
                return [p.spec for p in pilots.list(principal, use_case)]

        return ProgramFacts(
            self.warehouse_connection,
            self.run_kpi,
            specs,
            lambda name: self.evaluate_recorded_pilot(name, principal, record=False),
            self.ai_start_dates,
        )

    def _enablement(self, session: Any) -> EnablementService:
        return EnablementService(
            SqlEnablementRepository(session),
            SqlLifecycleRepository(session),
            self.warehouse_connection,
            lambda p: pseudonymise(self.secret, p),
            self.settings.min_group_size,
        )

    @contextmanager
    def enablement(
        self, by: Principal | None = None, *, readonly: bool = False
    ) -> Iterator[EnablementService]:
        """Curricula, learning records and the competency matrix, in one audited transaction."""
        with self._session(by, readonly) as session:
            yield self._enablement(session)

    @contextmanager
    def enablement_network(
        self, by: Principal | None = None, *, readonly: bool = False
    ) -> Iterator[NetworkService]:
        """Champions, team goals, frontline review sessions and the change log."""
        with self._session(by, readonly) as session:
            lifecycle = SqlLifecycleRepository(session)

            def phase_of(key: str) -> Any:
                found = lifecycle.get_use_case(key)
                return found[0].phase if found else None

            yield NetworkService(
                SqlEnablementRepository(session),
                self.warehouse_connection,
                self.run_kpi,
                lambda p: pseudonymise(self.secret, p),
                phase_of,
                self.settings.min_group_size,
            )

    def training_outcomes(
        self, use_case: str, kpis: Sequence[str] = OUTCOME_KPIS, who: Principal | None = None
    ) -> dict[str, Any]:
        """Trained vs not-yet-trained people of *use_case*, per KPI (docs/enablement.md); cached."""
        principal = who or operator()
        principal.require(Action.READ, use_case)
        with self.enablement(readonly=True) as service:
            trained = service.trained_on(use_case)
        marks = sorted((p, d.isoformat()) for p, d in trained.items())
        stamp = generation(self.warehouse, ("task_events", "people", "assignments", "usage_events"))
        key = f"training_outcomes|{use_case}|{','.join(kpis)}|{json.dumps(marks)}|{stamp}"
        k = self.settings.min_group_size

        def compute() -> dict[str, Any]:
            con = self.warehouse_connection()
            return {
                "use_case": use_case,
                "outcomes": [outcome_estimate(con, use_case, x, trained, k) for x in kpis],
            }

        return dict(self.kpi_cache.get_or_compute(key, compute))

    def record_training(
        self, rows: Iterable[dict[str, Any]], source: str, by: Principal | None = None
    ) -> TrainingReport:
        """Load learning records (person ids pseudonymised with the workspace key)."""
        principal = by or operator()
        with self.store.write(principal.actor) as session:
            return record_training(
                SqlLifecycleRepository(session),
                principal,
                rows,
                lambda p: pseudonymise(self.secret, p),
                source,
            )

    @contextmanager
    def _session(self, by: Principal | None, readonly: bool) -> Iterator[Any]:
        if readonly:
            with self.store.read() as session:
                yield session
            return
        with self.store.write((by or operator()).actor) as session:
            yield session

    def plan_pilot(self, name: str, power: float = 0.8, who: Principal | None = None) -> dict[str, Any]:
        """What the recorded pilot *name* can detect, from the baseline in the warehouse."""
        principal = who or operator()
        with self.pilots(readonly=True) as pilots:
            record = pilots.get(principal, name)
        if not 0.5 <= power < 1:
            raise ValidationError(f"power {power} is out of range", field="power", fix="use e.g. 0.8 or 0.9")
        return plan_pilot(self.warehouse_connection(), record.spec, power)

    def evaluate_recorded_pilot(
        self, name: str, who: Principal | None = None, record: bool = True
    ) -> dict[str, Any]:
        """``pilot evaluate --pilot NAME``: every KPI's estimate and the verdict with its reasons.

        With *record* (and the right to manage the pilot) the verdict is stored on the pilot.
        """
        principal = who or operator()
        with self.pilots(readonly=True) as pilots:
            spec = pilots.get(principal, name).spec

        def treated_value(kpi: str, cohort: str) -> float | None:
            result = self.kpi(
                kpi,
                use_case=spec.use_case,
                since=spec.start,
                until=spec.end,
                filters={"cohort": cohort},
                who=principal,
            )
            rows = [r for r in result.rows if not r["suppressed"]]
            return rows[0]["value"] if rows else None

        # The verdict depends only on the plan and the data: cached like KPI results, so a report view
        # recomputes only when the plan or the event data changed.
        tables = ("task_events", "people", "assignments", "usage_events", "survey_responses")
        key = f"pilot|{json.dumps(spec.to_dict(), sort_keys=True)}|{generation(self.warehouse, tables)}"
        doc = self.kpi_cache.get_or_compute(
            key, lambda: evaluate_recorded(self.warehouse_connection(), spec, treated_value)
        )
        if record and principal.can(
            Action.PILOT_MANAGE, spec.use_case
        ):  # readers may look; managers record it
            with self.pilots(principal) as pilots:
                pilots.record_evaluation(principal, name, doc["verdict"])
        return doc

    # --- records for the front ends ---------------------------------------------

    def ping(self) -> None:
        """Raise unless the operational store answers (for health checks)."""
        with self.store.read() as session:
            records.ping(session)

    def recent_ingests(self, limit: int = 20, who: Principal | None = None) -> list[dict[str, Any]]:
        """The latest ingest runs, newest first."""
        (who or operator()).require(Action.READ)
        with self.store.read() as session:
            return records.recent_ingests(session, limit)

    def audit_entries(
        self, *, after: int | None = None, limit: int = 100, who: Principal | None = None
    ) -> list[dict[str, Any]]:
        """Audit entries after *after* in chain order, or the newest first when *after* is None."""
        (who or operator()).require(Action.AUDIT_READ)
        with self.store.read() as session:
            return records.audit_entries(session, after=after, limit=limit)

    def table_counts(self, who: Principal | None = None) -> dict[str, int]:
        """Rows in each canonical table, counted by the warehouse engine."""
        (who or operator()).require(Action.READ)
        con = self.warehouse_connection()
        return {name: int(con.table(name).count().to_pyarrow().as_py()) for name in TABLES}

    def ingest(
        self,
        table: str,
        *files: str | Path | Sequence[str | Path],
        progress: Progress | None = None,
        by: Principal | None = None,
    ) -> IngestReport:
        """Load files into a canonical table (spec/events.md); returns the report."""
        principal = by or operator()
        principal.require(Action.INGEST)
        paths: list[str | Path] = []
        for f in files:
            paths.extend([f] if isinstance(f, (str, Path)) else list(f))
        report = ingest_files(
            self.warehouse,
            table,
            paths,
            secret=self.secret,
            quarantine_dir=self.settings.quarantine_dir,
            currency=self.settings.currency,
            batch_rows=self.settings.ingest_batch_rows,
            progress=progress,
        )
        self._record_ingest(report, principal)
        return report

    def _record_ingest(self, report: IngestReport, principal: Principal) -> None:
        from datetime import UTC, datetime

        with self.store.write(principal.actor) as session:
            session.add(
                IngestRun(
                    table_name=report.table,
                    files=[Path(f).name for f in report.files],
                    rows_read=report.rows_read,
                    loaded=report.loaded,
                    duplicates=report.duplicates,
                    quarantined=report.quarantined,
                    quarantine_file=Path(report.quarantine_file).name if report.quarantine_file else None,
                    reasons=report.reasons,
                    created_at=datetime.now(UTC),
                )
            )

    def verify_audit(self, by: Principal | None = None) -> ChainCheck:
        """Walk the audit chain; see :func:`paceline.domain.audit_chain.verify_chain`."""
        (by or operator()).require(Action.AUDIT_VERIFY)
        with self.store.read() as session:
            head = audit.chain_head(session)
            return verify_chain(audit.chain_entries(session), head)

    def audit_export(self) -> AuditExportService:
        """The SIEM exporter (OCSF JSON Lines, CEF, RFC 5424) with its cursors in the store."""
        from importlib.metadata import PackageNotFoundError, version
        from socket import gethostname

        try:
            product_version = version("paceline")
        except PackageNotFoundError:
            product_version = "0+unknown"
        options = ExportOptions(
            self.settings.audit_export_hostname or gethostname(),
            product_version,
            self.settings.audit_export_hec_token,
            self.settings.audit_export_timeout_seconds,
            self.settings.audit_export_batch,
        )
        return AuditExportService(SqlAuditExportStore(self.store), self.audit_pseudonym, options)

    def audit_export_range(self, after: int, limit: int, who: Principal | None = None) -> list[AuditRecord]:
        """Entries with ``seq > after`` in chain order, for a download (no cursor moves)."""
        (who or operator()).require(Action.AUDIT_EXPORT)
        return SqlAuditExportStore(self.store).entries_after(after, limit)

    @cached_property
    def oidc(self) -> OidcClient | None:
        """The single sign-on client when ``oidc_issuer`` and ``oidc_client_id`` are set (docs/sso.md)."""
        s = self.settings
        if not (s.oidc_issuer and s.oidc_client_id):
            return None
        config = OidcConfig(
            s.oidc_issuer, s.oidc_client_id, s.oidc_client_secret, s.oidc_scopes,
            s.oidc_login_claim, s.oidc_role_claim, dict(s.oidc_role_map), s.oidc_default_role,
        )
        return OidcClient(config)

    def audit_pseudonym(self, value: str) -> str:
        """The keyed pseudonym of a login, address or free text in exported audit events."""
        return pseudonymise(self.secret + b"|audit-export", value)

    def audit_checkpoints(self) -> CheckpointService:
        """Signed checkpoints of the chain head, with the key pair in ``<home>/audit``."""
        return CheckpointService(
            SqlChainReader(self.store),
            self.home / "audit",
            lambda actor, checkpoint: record_checkpoint(self.store, actor, checkpoint),
        )

    def search_audit(
        self, where: EntryFilter, limit: int = 100, who: Principal | None = None
    ) -> list[AuditRecord]:
        """The newest entries matching *where* (actor, action, entity, date range), newest first."""
        (who or operator()).require(Action.AUDIT_READ)
        for name in ("since", "until"):
            value = getattr(where, name)
            if value:
                parse_date(value[:10], name)
        return search_entries(self.store, where, limit)

    def kpi(
        self,
        kpi: str,
        *,
        use_case: str | None = None,
        by: Sequence[str] = (),
        grain: str = "total",
        since: date | str | None = None,
        until: date | str | None = None,
        stat: str = "mean",
        filters: dict[str, str] | None = None,
        who: Principal | None = None,
    ) -> KpiResult:
        """Compute a KPI (spec/interface.md, ``kpi compute``); small groups come back suppressed.

        *filters* keeps one segment, e.g. ``{"team": "claims-east"}`` (a drill-down).
        """
        return self.run_kpi(self._kpi_query(kpi, use_case, by, grain, since, until, stat, filters, who))

    def run_kpi(self, query: KpiQuery) -> KpiResult:
        """Compute *query* (already permission-checked), served from the cache while data is unchanged."""
        return self.run_kpis([query])[0]

    def run_kpis(self, queries: Sequence[KpiQuery]) -> list[KpiResult]:
        """Several queries at once: cached ones from the cache, the rest in shared scans."""
        k = self.settings.min_group_size
        keys = [
            f"kpi|{q.cache_key()}|k={k}|{generation(self.warehouse, definition(q.kpi).sources)}"
            for q in queries
        ]
        found = [self.kpi_cache.get(key) for key in keys]
        missing = [i for i, doc in enumerate(found) if doc is None]
        if missing:
            fresh = compute_many(self.warehouse_connection(), [queries[i] for i in missing], k)
            for i, result in zip(missing, fresh, strict=True):
                found[i] = self.kpi_cache.put(keys[i], _cached_doc(result))
        return [
            KpiResult(definition(q.kpi), q, d["rows"], d["weights"])
            for q, d in zip(queries, found, strict=True)
            if d is not None
        ]

    def kpi_compare(self, kpi: str, sides: Sides, **options: Any) -> Comparison:
        """The KPI on two sides (before/after a date, or two cohorts) with the change per group."""
        return compare(self.run_kpi, self._kpi_query(kpi, **options), sides)

    def kpi_explain(self, kpi: str, sides: Sides, dim: str, **options: Any) -> Explanation:
        """Where a KPI change comes from: rate and mix effects per segment of *dim*."""
        return explain(self.run_kpi, self._kpi_query(kpi, **options), sides, dim)

    def drift_windows(
        self,
        model: str,
        *,
        reference: tuple[date | str, date | str] | None = None,
        current: tuple[date | str, date | str] | None = None,
        every: str | timedelta = "7d",
        features: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        version: str | None = None,
        policy: DriftPolicy | None = None,
        latest: int | None = None,
        who: Principal | None = None,
    ) -> list[DriftReport]:
        """Drift of a model's features, predictions and scores: one report per current window.

        Days are UTC with both ends included. By default the reference is the model's first
        28 days and the current windows are the consecutive *every* after it (only the
        *latest* ones when given).
        """
        principal = who or operator()
        con = self.warehouse_connection()
        use_cases: list[str | None] = [*model_use_cases(con, model)] or [None]
        for use_case in use_cases:
            principal.require(Action.READ, use_case)
        request = WindowRequest(reference, current, every, latest)
        return monitor_drift(
            con, model, request, policy, features=features, categorical=categorical, version=version
        )

    def model_drift(
        self,
        model: str,
        who: Principal | None = None,
        every: str = "7d",
        latest: int | None = DASHBOARD_DRIFT_WINDOWS,
    ) -> dict[str, Any]:
        """Drift of *model* per rolling window against its reference window (its first 28 days),
        as JSON (see :func:`paceline.services.model_tiles.drift_summary`), cached while the
        predictions are unchanged; ``note`` says why there are no windows when there are none.

        Dashboards show the *latest* windows (default :data:`DASHBOARD_DRIFT_WINDOWS`); each
        window is a full comparison, so a model live for a year would cost 50 of them cold.
        ``latest=None`` computes every window since the reference.
        """
        principal = who or operator()
        step = parse_every(every)
        data = generation(self.warehouse, ("predictions",))
        key = f"model-drift|{model}|{int(step.total_seconds())}|{latest or 'all'}|{data}"

        def compute() -> dict[str, Any]:
            use_cases = model_use_cases(self.warehouse_connection(), model)
            try:
                reports = self.drift_windows(model, every=step, latest=latest, who=principal)
            except (NotFound, ValidationError) as exc:
                return {"use_cases": use_cases, "reference": {}, "windows": [], "note": exc.message}
            return {"use_cases": use_cases, **drift_summary(reports), "note": None}

        doc = dict(self.kpi_cache.get_or_compute(key, compute))
        for use_case in doc["use_cases"] or [None]:
            principal.require(Action.READ, use_case)
        return doc

    def model_monitoring(
        self, use_cases: Sequence[str], who: Principal | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Per use case, its models with a production version, their weekly performance per
        version and their drift (KPI 7 of the overview; both cached)."""
        principal = who or operator()
        with self.models(readonly=True) as registry:
            found = [m for m in registry.list(principal) if m["use_case"] in use_cases and m["production"]]
        out: dict[str, list[dict[str, Any]]] = {}
        for m in found:
            drift = self.model_drift(m["name"], principal)
            out.setdefault(m["use_case"], []).append(
                {
                    "model": m["name"],
                    "title": m["title"],
                    "production": m["production"],
                    "performance": self.model_performance(
                        m["name"], principal, grain="week", segment="model_version"
                    ),
                    "drift": drift if drift["windows"] else None,
                    "drift_note": drift["note"],
                }
            )
        return out

    def use_cases(self) -> list[str]:
        """Use cases that appear in the event data (tasks, assignments, usage, model predictions).

        A use case whose only data is its model's predictions still gets its dashboard scope,
        so its KPI 7 (model performance and drift) shows.
        """
        tables = ("task_events", "assignments", "usage_events", "predictions")
        key = f"use_cases|{generation(self.warehouse, tables)}"

        def compute() -> dict[str, Any]:
            con = self.warehouse_connection()
            names = [con.table(t).select("use_case") for t in tables]
            union = names[0].union(*names[1:]).distinct().order_by("use_case")
            return {"use_cases": [v for v in union.to_pyarrow().column(0).to_pylist() if v is not None]}

        return list(self.kpi_cache.get_or_compute(key, compute)["use_cases"])

    def ai_start_dates(self) -> dict[str, date]:
        """Per use case, the first day its AI tool was switched on for anyone."""
        key = f"ai_start|{generation(self.warehouse, ('assignments',))}"

        def compute() -> dict[str, Any]:
            a = self.warehouse_connection().table("assignments")
            rows = a.group_by("use_case").aggregate(start=a.ai_enabled_from.min()).to_pyarrow().to_pylist()
            return {r["use_case"]: r["start"].isoformat() for r in rows if r["start"] is not None}

        return {k: date.fromisoformat(v) for k, v in self.kpi_cache.get_or_compute(key, compute).items()}

    def overview(self, use_case: str | None = None, who: Principal | None = None) -> dict[str, Any]:
        """Every KPI tile for the program and each use case the principal may see."""
        principal = who or operator()
        principal.require(Action.READ, use_case)
        return overview(_ScopedSource(self, principal), use_case)

    def warm_caches(self) -> None:
        """Compute the overview if its data changed, so the next page view is served from the cache.

        The overview holds KPI 7 (each production model's weekly performance and drift);
        the model pages' other figures (performance per grain, the whole-period calibration)
        are warmed for every model with a production version, whatever its use case.
        """
        self.overview()
        principal = operator()
        with self.models(readonly=True) as registry:
            names = [m["name"] for m in registry.list(principal) if m["production"]]
        for name in names:
            self.model_drift(name, principal)
            self.model_performance(name, principal, grain="week")
            self.model_performance(name, principal, grain="total")

    def _kpi_query(
        self,
        kpi: str,
        use_case: str | None = None,
        by: Sequence[str] = (),
        grain: str = "total",
        since: date | str | None = None,
        until: date | str | None = None,
        stat: str = "mean",
        filters: dict[str, str] | None = None,
        who: Principal | None = None,
    ) -> KpiQuery:
        principal = who or operator()
        principal.require(Action.READ, use_case)
        if use_case is None and not principal.is_global:
            raise PermissionDenied(
                f"{principal.login} may see KPIs of their own use cases only",
                fix="choose a use case (--use-case, or use_case= in the API)",
            )
        return KpiQuery(
            kpi,
            use_case,
            tuple(by),
            parse_choice(Grain, grain, "grain"),
            _date(since, "since"),
            _date(until, "until"),
            parse_choice(Stat, stat, "stat"),
            dict(filters or {}),
        )

    def warehouse_connection(self) -> Any:
        """This thread's warehouse connection (views read the Parquet files afresh on every query).

        One per thread: an engine connection must not run two queries at once, and
        the web server answers requests on several threads.
        """
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self.warehouse.connect()
        return con

    def connect(self) -> Any:
        """An Ibis connection to the warehouse with one view per canonical table."""
        return self.warehouse.connect()

    @cached_property
    def runtime(self) -> Runtime:
        """The human-in-the-loop runtime on this workspace's store (workflows from the registry)."""
        return Runtime(self.store, REGISTRY)

    def export_runtime_events(self, limit: int = 100_000) -> int:
        """Move the runtime's canonical events into the warehouse through the ordinary ingest."""
        return export_events(self.store, self.ingest, self.home / "cache" / "runtime-export", limit)

    def close(self) -> None:
        self.store.dispose()
