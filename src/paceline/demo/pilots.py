"""The demo's pilots: recorded as a program manager would, before looking, then evaluated.

* ``claims-rct``: the claims assistant randomised by person (pilot vs control cohort);
* ``clinical-did``: the AI scribe at the pilot sites against the control sites,
  before and after the switch-on (difference-in-differences);
* ``maintenance-rollout``: the plants switched on in three waves, each wave judged
  against the plants not yet switched on (a staggered rollout).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from paceline.bootstrap import Workspace
from paceline.demo.params import FirmParams
from paceline.domain.pilots import Acceptance, Design, Guardrail, PilotSpec, PrimaryKpi
from paceline.services.access import operator


def _month(start: date, months: int) -> date:
    total = start.month - 1 + months
    return date(start.year + total // 12, total % 12 + 1, 1)


def demo_pilots(params: FirmParams) -> list[PilotSpec]:
    """The three pilot plans, dated from the demo's timeline."""
    t = params.timeline
    start, end = _month(t.start, t.pilot_start), _month(t.start, t.scale_up) - timedelta(days=1)
    wave_1 = _month(t.start, t.waves[0])
    rollout_end = _month(t.start, min(t.waves[2] + 3, t.months)) - timedelta(days=1)
    return [
        PilotSpec(
            "claims-rct",
            "claims-triage",
            "Pre-filled claims and routing suggestions raise adjusters' output per day without more errors",
            Design.RANDOMISED,
            ("pilot",),
            ("control",),
            start,
            end,
            (PrimaryKpi("productivity", 5),),
            (Guardrail("error_rate", 10), Guardrail("handling_time", 10)),
            (Acceptance("esat", 3.5), Acceptance("adoption_rate", 0.5)),
        ),
        PilotSpec(
            "clinical-did",
            "clinical-documentation",
            "The AI scribe cuts documentation time per encounter at the pilot sites",
            Design.DID,
            ("pilot",),
            ("control",),
            start,
            end,
            (PrimaryKpi("handling_time", 5),),
            (Guardrail("error_rate", 10),),
            (Acceptance("esat", 3.5),),
        ),
        PilotSpec(
            "maintenance-rollout",
            "predictive-maintenance",
            "Troubleshooting guidance shortens repairs as the plants switch on",
            Design.STAGGERED,
            ("wave-1", "wave-2", "wave-3"),
            (),
            wave_1,
            rollout_end,
            (PrimaryKpi("handling_time", 5),),
            (Guardrail("error_rate", 10),),
        ),
    ]


def record_and_evaluate(ws: Workspace, params: FirmParams) -> list[dict[str, Any]]:
    """Record the plans (audited) and return each pilot's verdict and primary estimate."""
    out = []
    for spec in demo_pilots(params):
        with ws.pilots() as pilots:
            if spec.name not in {p.spec.name for p in pilots.list(operator(), spec.use_case)}:
                pilots.create(operator(), spec)
        doc = ws.evaluate_recorded_pilot(spec.name)
        primary = doc["kpis"][0]
        out.append(
            {
                "pilot": spec.name,
                "design": spec.design.value,
                "kpi": primary["kpi"],
                "relative_lift": primary["relative_lift"],
                "relative_ci": primary["relative_ci"],
                "se_method": primary["se_method"],
                "verdict": doc["verdict"],
            }
        )
    return out
