"""The workspace: where settings, the secret, the stores and the services are wired.

This is the one place that turns settings into real adapters (SQLAlchemy store,
Parquet warehouse) and hands them to services. The CLI, the web app and library
users all start here.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from paceline.domain.audit_chain import ChainCheck, verify_chain
from paceline.domain.kpis import Grain, Stat
from paceline.domain.roles import Action
from paceline.errors import WorkspaceNotFound
from paceline.services.access import AccessService, Principal, operator
from paceline.services.kpi import KpiResult
from paceline.services.kpi import compute as compute_kpi
from paceline.services.kpi_frames import KpiQuery
from paceline.services.parsing import parse_choice, parse_date
from paceline.settings import SETTINGS_FILE, Settings, load_settings
from paceline.storage import audit
from paceline.storage.access_repo import SqlAccessRepository
from paceline.storage.db import Store
from paceline.storage.ingest import IngestReport, Progress, ingest_files
from paceline.storage.models import IngestRun
from paceline.storage.warehouse import Warehouse

SECRET_FILE = "secret.key"
MARKER_KEYS = ("min_group_size", "currency")


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
        self._con: Any = None

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
    def access(self, by: Principal | None = None) -> Iterator[AccessService]:
        """The access service inside one audited transaction."""
        actor = (by or operator()).actor
        with self.store.write(actor) as session:
            yield AccessService(SqlAccessRepository(session))

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
        who: Principal | None = None,
    ) -> KpiResult:
        """Compute a KPI (spec/interface.md, ``kpi compute``); small groups come back suppressed."""
        (who or operator()).require(Action.READ, use_case)
        query = KpiQuery(
            kpi, use_case, tuple(by), parse_choice(Grain, grain, "grain"), _date(since, "since"),
            _date(until, "until"), parse_choice(Stat, stat, "stat"),
        )
        return compute_kpi(self.warehouse_connection(), query, self.settings.min_group_size)

    def warehouse_connection(self) -> Any:
        """A cached warehouse connection (views read the Parquet files afresh on every query)."""
        if self._con is None:
            self._con = self.warehouse.connect()
        return self._con

    def connect(self) -> Any:
        """An Ibis connection to the warehouse with one view per canonical table."""
        return self.warehouse.connect()

    def close(self) -> None:
        self.store.dispose()
