"""``paceline demo``: build the demo firm in a workspace, the way a user would load a real one.

The firm's tables are written as Parquet to ``<workspace>/demo-data/`` and loaded
with :meth:`Workspace.ingest` (so they go through the same checks, pseudonymisation
and audit trail as any export); then one demo user per role is created and the
headline numbers are read back from the warehouse. ``demo.json`` in the workspace
marks a demo, so a second run says so instead of loading everything twice, and
``reset_demo`` only ever deletes a workspace that this module built.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from paceline.bootstrap import Workspace
from paceline.demo.enablement import record_enablement
from paceline.demo.firm import LOAD_ORDER, Firm, generate_firm
from paceline.demo.governance import build_demo_governance
from paceline.demo.headlines import Headline, ModelLine, headlines, models
from paceline.demo.lifecycle import record_program, record_use_cases
from paceline.demo.models import register_demo_models
from paceline.demo.monitoring import install_rules, record_monitoring
from paceline.demo.params import FirmParams
from paceline.demo.pilots import record_and_evaluate
from paceline.demo.runtime import run_recent_months
from paceline.domain.roles import Role
from paceline.errors import Conflict, UsageError
from paceline.services.access import operator
from paceline.settings import Settings, load_settings

DEFAULT_SEED = 7
MARKER = "demo.json"
MARKER_FORMAT = 2  # bump when DemoSummary changes shape; an older marker then asks for --reset
DATA_DIR = "demo-data"
DERIVED = ("warehouse", "quarantine", "cache", DATA_DIR)
SQLITE_FILES = ("paceline.db", "paceline.db-wal", "paceline.db-shm")
SCOPED_ROLES = {Role.REVIEWER: "claims-triage"}  # shows a grant limited to one use case

Say = Callable[[str], None]


class DemoExists(Conflict):
    """The workspace already holds a demo; nothing was changed."""

    code = "demo_exists"


def password_for(seed: int) -> str:
    """The demo users' password: local-only and documented, so derived from the seed."""
    return f"paceline-demo-{seed}"


@dataclass(frozen=True)
class Login:
    login: str
    role: str
    use_case: str | None = None


@dataclass(frozen=True)
class DemoSummary:
    """What ``build_demo`` built: rows per table, headline numbers, logins and timings."""

    home: str
    seed: int
    people: int
    months: int
    rows: dict[str, int]
    quarantined: int
    headlines: list[Headline]
    models: list[ModelLine]
    audit_entries: int
    audit_ok: bool
    logins: list[Login]
    password: str
    seconds: dict[str, float] = field(default_factory=dict)
    pilots: list[dict[str, Any]] = field(default_factory=list)
    program: list[dict[str, Any]] = field(default_factory=list)
    runtime: dict[str, Any] = field(default_factory=dict)
    registry: list[dict[str, Any]] = field(default_factory=list)
    enablement: dict[str, Any] = field(default_factory=dict)
    monitoring: dict[str, Any] = field(default_factory=dict)
    governance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DemoSummary:
        fields = dict(doc)
        fields["headlines"] = [Headline(**{**h, **_tuples(h)}) for h in doc["headlines"]]
        fields["models"] = [ModelLine(**m) for m in doc["models"]]
        fields["logins"] = [Login(**x) for x in doc["logins"]]
        return cls(**{k: v for k, v in fields.items() if k in cls.__dataclass_fields__})


def _tuples(h: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(h[k]) for k in ("productivity", "error_rate", "resolution_hours", "effort_minutes")}


def read_marker(home: Path) -> dict[str, Any] | None:
    """The demo marker of the workspace at *home*, or None when it is not a demo."""
    path = home / MARKER
    if not path.exists():
        return None
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _write_marker(home: Path, doc: dict[str, Any]) -> None:
    tmp = home / f".{MARKER}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, home / MARKER)


def existing_demo(home: Path) -> DemoSummary | None:
    """The summary of the finished demo at *home*; raises if a build was interrupted."""
    doc = read_marker(home)
    if doc is None:
        return None
    if doc.get("status") != "ready":
        raise UsageError(
            f"an earlier 'paceline demo' in {home} did not finish",
            fix="run 'paceline demo --reset' to rebuild it",
        )
    if doc.get("format") != MARKER_FORMAT:
        raise UsageError(
            f"the demo in {home} was built by another version of Paceline",
            fix="run 'paceline demo --reset' to rebuild it",
        )
    return DemoSummary.from_dict(doc["summary"])


def _guard(ws: Workspace) -> None:
    """Refuse to build over a demo, or over a workspace that holds someone's real data."""
    found = existing_demo(ws.home)
    if found is not None:
        raise DemoExists(
            f"a demo firm (seed {found.seed}) already exists in {ws.home}; nothing was changed",
            seed=found.seed,
            fix="run 'paceline demo --reset' to rebuild it",
        )
    with ws.access(readonly=True) as access:
        users = access.list_users(operator())
    if users or any(ws.warehouse.data_files(name) for name in LOAD_ORDER):
        raise UsageError(
            f"{ws.home} holds data or users that are not a demo; the demo will not mix into it",
            fix="set PACELINE_HOME to a new folder for the demo",
        )


def reset_demo(settings: Settings) -> list[Path]:
    """Delete a demo workspace's data, warehouse and embedded database; keep its secret.

    Only a workspace marked by ``demo.json`` is touched. With ``PACELINE_DATABASE_URL``
    set, the external database is left alone (its demo users are reused).
    """
    home = settings.home
    if read_marker(home) is None:
        return []
    names = [*DERIVED, *(SQLITE_FILES if settings.database_url is None else ())]
    removed = [home / n for n in names if (home / n).exists()]
    for path in removed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (home / MARKER).unlink()
    return removed


def write_tables(firm: Firm, folder: Path) -> dict[str, Path]:
    """One zstd Parquet file per table, as a firm's export would be."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in firm.tables.items():
        paths[name] = folder / f"{name}.parquet"
        pq.write_table(table, paths[name], compression="zstd", row_group_size=1_000_000)
    return paths


def _create_users(ws: Workspace, seed: int) -> list[Login]:
    logins = [Login(f"demo-{role.value}", role.value, SCOPED_ROLES.get(role)) for role in Role]
    with ws.access() as access:
        known = {u.login for u in access.list_users(operator())}
        for x in logins:
            if x.login not in known:
                access.add_user(operator(), x.login, x.role, x.use_case, password_for(seed))
    return logins


def _load(ws: Workspace, paths: dict[str, Path], tell: Say) -> tuple[dict[str, int], int]:
    """Ingest each file as a user would; rows loaded per table and rows quarantined in all."""
    rows, quarantined = {}, 0
    for name, path in paths.items():
        tell(f"loading {name}")
        report = ws.ingest(name, path)
        rows[name], quarantined = report.loaded, quarantined + report.quarantined
    return rows, quarantined


def _monitored_program(ws: Workspace, tell: Say) -> None:
    """What the phase-5 gate reads besides the program's records: the use cases' models with the
    firm's earlier versions (from its predictions) in the registry, watched by the starter alert
    rules, each naming its runbook. The runtime's versions are added after it ran."""
    record_use_cases(ws)
    register_demo_models(ws, say=tell)
    install_rules(ws)


def build_demo(
    ws: Workspace, seed: int = DEFAULT_SEED, params: FirmParams | None = None, say: Say | None = None
) -> DemoSummary:
    """Generate the firm for *seed*, load it through ingest, add the demo users; see the module doc."""
    params = params or FirmParams()
    tell = say or (lambda _: None)
    _guard(ws)
    _write_marker(ws.home, {"format": MARKER_FORMAT, "status": "building", "seed": seed})
    clock = {"start": time.perf_counter()}
    tell(f"generating the firm (seed {seed})")
    firm = generate_firm(params, seed)
    clock["generated"] = time.perf_counter()
    paths = write_tables(firm, ws.home / DATA_DIR)
    del firm
    gc.collect()
    clock["written"] = time.perf_counter()
    rows, quarantined = _load(ws, paths, tell)
    clock["loaded"] = time.perf_counter()
    tell("creating users and reading the headline numbers back")
    logins = _create_users(ws, seed)
    tell("recording and evaluating the three pilots")
    pilots = record_and_evaluate(ws, params)
    clock["pilots"] = time.perf_counter()
    enablement = record_enablement(ws, params, seed, tell)
    clock["enablement"] = time.perf_counter()
    tell("recording the program: use cases, models, starter alert rules, gates and reviews")
    _monitored_program(ws, tell)
    program = record_program(ws)
    clock["program"] = time.perf_counter()
    tell("running the firm's last weeks through the human-in-the-loop runtime")
    runtime = run_recent_months(ws, seed, params, say=tell)
    registry = register_demo_models(ws, say=tell)  # adds the versions the runtime trained
    clock["runtime"] = time.perf_counter()
    monitoring = record_monitoring(ws, say=tell)
    clock["monitoring"] = time.perf_counter()
    tell("recording governance: catalogues, evidence, findings, retention and notices")
    governance = build_demo_governance(ws)
    clock["governance"] = time.perf_counter()
    check = ws.verify_audit()
    summary = DemoSummary(
        home=str(ws.home),
        seed=seed,
        people=params.workforce.employees,
        months=params.timeline.months,
        rows=rows,
        quarantined=quarantined,
        headlines=headlines(ws, params),
        models=models(ws, params),
        audit_entries=check.entries,
        audit_ok=check.ok,
        logins=logins,
        password=password_for(seed),
        seconds=_durations(clock),
        pilots=pilots,
        program=program,
        runtime=runtime,
        registry=registry,
        enablement=enablement,
        monitoring=monitoring,
        governance=governance,
    )
    _write_marker(ws.home, {"format": MARKER_FORMAT, "status": "ready", "summary": summary.to_dict()})
    return summary


def run_demo(
    seed: int = DEFAULT_SEED,
    params: FirmParams | None = None,
    *,
    reset: bool = False,
    home: Path | None = None,
    say: Say | None = None,
) -> tuple[DemoSummary, bool]:
    """What ``paceline demo`` does: (reset,) build unless a demo exists; return it and whether it is new.

    The workspace is ``$PACELINE_HOME`` or ``./.paceline`` (or *home*), created if needed.
    """
    if reset:
        reset_demo(load_settings(home))
    ws = Workspace.init(home)
    try:
        return build_demo(ws, seed, params, say), True
    except DemoExists:
        found = existing_demo(ws.home)
        assert found is not None
        return found, False
    finally:
        ws.close()


def _durations(clock: dict[str, float]) -> dict[str, float]:
    now = time.perf_counter()
    return {
        "generate": round(clock["generated"] - clock["start"], 3),
        "write": round(clock["written"] - clock["generated"], 3),
        "ingest": round(clock["loaded"] - clock["written"], 3),
        "summary": round(now - clock["loaded"], 3),
        "pilots": round(clock["pilots"] - clock["loaded"], 3),
        "enablement": round(clock["enablement"] - clock["pilots"], 3),
        "program": round(clock["program"] - clock["enablement"], 3),
        "runtime": round(clock["runtime"] - clock["program"], 3),
        "monitoring": round(clock["monitoring"] - clock["runtime"], 3),
        "governance": round(clock["governance"] - clock["monitoring"], 3),
        "total": round(now - clock["start"], 3),
    }
