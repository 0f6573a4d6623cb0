"""The evidence a gate is judged on: a pure snapshot the lifecycle service gathers.

Every field comes from Paceline's records or the warehouse (pilot verdicts, KPIs,
training records, operations figures, reviews, risks, ROI, the model registry with its
alert rules and incidents); ``None`` means "no data yet", which a check reports as
pending rather than passing. Keeping the snapshot pure lets the gate rules be tested
without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from paceline.domain.alerts import AlertRule, Scope, SignalKind
from paceline.domain.usecases import UseCase

# The signals that judge a model's own quality (drift of its inputs, performance on the labels),
# as opposed to the runtime's (error rate, latency, overrides, review SLA, cost).
MODEL_SIGNALS = frozenset({SignalKind.DRIFT_SHARE, SignalKind.COLUMN_DRIFT, SignalKind.PERFORMANCE})


@dataclass(frozen=True)
class Link:
    """Where a person can see the evidence (a page of the web app)."""

    label: str
    href: str


@dataclass(frozen=True)
class DeliverableState:
    key: str
    status: str  # DeliverableStatus value
    owner: str = ""
    link: str = ""


@dataclass(frozen=True)
class Signoff:
    check: str
    by: str
    role: str
    at: str
    note: str = ""


@dataclass(frozen=True)
class PilotEvidence:
    """A pilot of the use case and its latest verdict (``None`` before it can be judged)."""

    name: str
    verdict: str | None
    reasons: tuple[str, ...] = ()
    primary_met: bool | None = None
    acceptance_met: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class Requirement:
    """An architecture requirement with its target and what was measured or verified."""

    id: int
    kind: str  # RequirementKind value
    title: str
    target: str
    measured: str
    met: bool
    verified_by: str = ""


@dataclass(frozen=True)
class TechChoice:
    name: str
    score: float
    selected: bool
    annual_cost: float | None = None


@dataclass(frozen=True)
class TrainingEvidence:
    """Training records of the people eligible for the use case (phase 4)."""

    eligible: int
    enrolled: int
    completed: int
    assessed: int
    passed: int

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.eligible if self.eligible else None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.assessed if self.assessed else None


@dataclass(frozen=True)
class OpsEvidence:
    """Operations figures since go-live (phase 5); each with the source it came from."""

    uptime: float | None = None
    uptime_source: str = ""
    error_rate: float | None = None
    baseline_error_rate: float | None = None
    error_source: str = ""
    traceability: float | None = None
    traceability_source: str = ""


@dataclass(frozen=True)
class ReviewState:
    kind: str  # day30 | day60 | day90
    due: date
    completed: bool
    outcome: str | None = None


@dataclass(frozen=True)
class RiskState:
    key: str
    title: str
    status: str
    residual_score: int


@dataclass(frozen=True)
class RoiEvidence:
    cumulative_roi: float | None
    growing: bool | None
    sentence: str = ""


@dataclass(frozen=True)
class ComplianceEvidence:
    """The use case's compliance & risk score (KPI 8) on the day of the gate, and its status."""

    score: float | None
    status: str  # green | amber | red | none
    red_reasons: tuple[str, ...] = ()
    top_fix: str = ""


def watches(rule: AlertRule, use_case: str, model: str) -> bool:
    """Whether *rule* watches *model*: enabled, on a model signal, and scoped to the model, its use
    case or everything. A runtime rule (error rate, latency) does not count: it cannot see drift."""
    return (
        rule.enabled
        and rule.signal.kind in MODEL_SIGNALS
        and rule.scope.covers(Scope(use_case=use_case, model=model))
    )


@dataclass(frozen=True)
class ModelWatch:
    """A model of the use case with a version in production, what watches it and how it is renewed."""

    name: str
    version: str  # the version in production
    rules: tuple[str, ...] = ()  # enabled alert rules on a model signal that cover it
    retrain_every_days: int | None = None  # its retraining schedule (None: none set)
    retirements: tuple[str, ...] = ()  # versions deprecated, retired or with a deprecation date


@dataclass(frozen=True)
class IncidentState:
    id: int
    title: str
    severity: str  # sev1 .. sev4
    status: str


@dataclass(frozen=True)
class MonitoringEvidence:
    """Phases 5 and 6: the use case's production models as the registry, the alert rules and the
    incidents record them. ``models`` empty means nothing is in production yet (pending)."""

    models: tuple[ModelWatch, ...] = ()
    open_incidents: tuple[IncidentState, ...] = ()  # sev1/sev2 of the use case or its models, not resolved
    runbooks: tuple[str, ...] = ()  # the runbook_url of its incidents and alert rules

    @property
    def unwatched(self) -> tuple[ModelWatch, ...]:
        return tuple(m for m in self.models if not m.rules)

    @property
    def dashboards(self) -> bool:
        """Every production model has an alert rule on its drift or performance: the model page
        shows those figures and ``/alerts`` what they raised, so the dashboards exist and are watched."""
        return bool(self.models) and not self.unwatched

    @property
    def lifecycle_processes(self) -> bool:
        """Every production model is on a retraining schedule and has been through a deprecation
        (an earlier version deprecated or retired, or a deprecation date planned)."""
        return bool(self.models) and all(m.retrain_every_days and m.retirements for m in self.models)


@dataclass(frozen=True)
class Thresholds:
    """Pass marks of the automated checks; a workspace may change them in its settings."""

    training_completion: float = 0.8
    assessment_pass: float = 0.8
    demonstrated_use: float = 0.6  # adoption rate among eligible people, the framework's 60-80% aim
    uptime: float = 0.995
    error_rate_margin: float = 0.10  # production error rate at most 10% worse than the pre-AI baseline
    traceability: float = 0.99
    esat: float = 3.5
    min_roi: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """Everything the gate rules look at, for one use case at one moment."""

    use_case: UseCase
    today: date
    ai_act_tier: str
    ai_act_rule: str
    deliverables: dict[str, DeliverableState] = field(default_factory=dict)
    signoffs: dict[str, Signoff] = field(default_factory=dict)
    stakeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> people
    pilots: tuple[PilotEvidence, ...] = ()
    requirements: tuple[Requirement, ...] = ()
    tech: tuple[TechChoice, ...] = ()
    training: TrainingEvidence | None = None
    adoption: float | None = None
    ops: OpsEvidence = field(default_factory=OpsEvidence)
    go_live: date | None = None
    reviews: tuple[ReviewState, ...] = ()
    esat: float | None = None
    risks: tuple[RiskState, ...] = ()
    compliance: ComplianceEvidence | None = None
    roi: RoiEvidence | None = None
    monitoring: MonitoringEvidence | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
