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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from paceline.domain.audit_chain import ChainCheck, verify_chain
from paceline.domain.kpis import Grain, Stat
from paceline.domain.privacy import pseudonymise
from paceline.domain.roles import Action
from paceline.domain.tables import TABLES
from paceline.errors import PermissionDenied, ValidationError, WorkspaceNotFound
from paceline.runtime.engine import Runtime
from paceline.runtime.export import export_events
from paceline.runtime.registry import REGISTRY
from paceline.services.access import AccessService, Principal, operator
from paceline.services.dashboard import overview
from paceline.services.gate_service import GateService
from paceline.services.kpi import KpiResult, compute_many, definition
from paceline.services.kpi_explain import Comparison, Explanation, Sides, compare, explain
from paceline.services.kpi_frames import KpiQuery
from paceline.services.lifecycle import LifecycleService
from paceline.services.parsing import parse_choice, parse_date
from paceline.services.pilot_eval import evaluate_recorded
from paceline.services.pilot_plan import plan_pilot
from paceline.services.pilots import PilotService
from paceline.services.program import ProgramService
from paceline.services.program_facts import ProgramFacts
from paceline.services.training import TrainingReport, record_training
from paceline.settings import SETTINGS_FILE, Settings, load_settings
from paceline.storage import audit, records
from paceline.storage.access_repo import SqlAccessRepository
from paceline.storage.db import Store
from paceline.storage.ingest import IngestReport, Progress, ingest_files
from paceline.storage.kpi_cache import ResultCache, generation
from paceline.storage.lifecycle_repo import SqlLifecycleRepository
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
    def gates(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[GateService]:
        """Gate checks on evidence from the records, the warehouse and the pilot engine."""
        principal = by or operator()
        with self._session(principal, readonly) as session:
            yield GateService(SqlLifecycleRepository(session), self.program_facts(principal))

    @contextmanager
    def program(self, by: Principal | None = None, *, readonly: bool = False) -> Iterator[ProgramService]:
        """Portfolio, assessments, risks, reviews, ROI and the use-case page (with its gate)."""
        principal = by or operator()
        with self._session(principal, readonly) as session:
            yield ProgramService(SqlLifecycleRepository(session), self.program_facts(principal))

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

    def use_cases(self) -> list[str]:
        """Use cases that appear in the event data (tasks, assignments, usage)."""
        tables = ("task_events", "assignments", "usage_events")
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
        """Compute the overview if its data changed, so the next page view is served from the cache."""
        self.overview()

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
