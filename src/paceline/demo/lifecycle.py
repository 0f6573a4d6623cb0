"""The demo firm's program: its three use cases in the portfolio, each at a different phase.

Everything goes through the same services a user would call, as the demo users who would
do it (the business owner records the use case, the security officer signs the security
review, HR imports the learning records), so the gate decisions rest on the firm's real
data and records:

* claims-triage passes every gate on its evidence (an adopted pilot, met requirements,
  trained staff, measured uptime, error rate, traceability and reviews, its production
  model watched by the starter alert rules, each naming its runbook) and is
  in phase 6;
* predictive-maintenance's staggered rollout came back ``extend``; the program manager
  overrides the pilot gate with a written reason, it passes technology selection, and it
  waits in phase 4 while training is under way (the gate shows completion below target);
* clinical-documentation's pilot came back ``extend``: it stays in phase 2, gate blocked.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date, timedelta
from typing import Any

from paceline.bootstrap import Workspace
from paceline.demo.usecases import OPTIONS, REQUIREMENTS, USE_CASES
from paceline.domain.phases import CHECKPOINTS_BY_KEY, DELIVERABLES, Stage
from paceline.domain.roi import add_months
from paceline.domain.roles import Grant, Role
from paceline.domain.usecases import Phase
from paceline.services.access import Principal, operator
from paceline.services.gate_service import GateBlocked

WIKI = "https://wiki.demo-firm.example/ai-program"
OVERRIDE = (
    "Downtime fell in all three waves; the verdict is extend only because wave 3 has little follow-up. "
    "The CoE accepts the risk and will re-check at the 90-day review."
)


def as_role(role: Role) -> Principal:
    return Principal(f"demo-{role.value}", (Grant(role),))


PM, BO, SEC, ML, HR = (
    as_role(r)
    for r in (Role.PROGRAM_MANAGER, Role.BUSINESS_OWNER, Role.SECURITY, Role.ML_ENGINEER, Role.PEOPLE)
)


def _stakeholders(ws: Workspace, key: str) -> None:
    with ws.lifecycle(BO) as lc:
        for role in (
            Role.BUSINESS_OWNER,
            Role.PROGRAM_MANAGER,
            Role.DATA_ENGINEER,
            Role.ML_ENGINEER,
            Role.SECURITY,
            Role.PEOPLE,
            Role.REVIEWER,
        ):
            lc.assign(BO, key, role.value, f"demo-{role.value}")


def _documents(ws: Workspace, key: str, upto: Phase) -> None:
    with ws.lifecycle(PM) as lc:
        for d in DELIVERABLES:
            if d.source == "document" and d.phase <= upto:
                lc.set_deliverable(
                    PM, key, d.key, "done", f"demo-{d.owner_role.value}", f"{WIKI}/{key}/{d.key}"
                )


def _sign(ws: Workspace, key: str, stages: tuple[Stage, ...]) -> None:
    signer = {Role.SECURITY: SEC, Role.ML_ENGINEER: ML, Role.BUSINESS_OWNER: BO, Role.PROGRAM_MANAGER: PM}
    for point in CHECKPOINTS_BY_KEY.values():
        if point.stage in stages:
            who = next(signer[r] for r in point.roles if r in signer)
            with ws.lifecycle(who) as lc:
                lc.sign_off(who, key, point.key, f"see {WIKI}/{key}/{point.key}")


def _advance(ws: Workspace, key: str, justification: str | None = None) -> None:
    with ws.gates(PM) as gates:
        gates.advance(PM, key, justification)


def _select(ws: Workspace, key: str) -> None:
    with ws.program(PM) as program:
        for option in OPTIONS[key]:
            program.save_option(PM, key, option)
        program.select_option(PM, key, OPTIONS[key][0]["name"])
    with ws.lifecycle(ML) as lc:
        for kind, title, target, measured in REQUIREMENTS[key]:
            lc.record_requirement(ML, key, kind, title, target, measured, True)


def _operate(ws: Workspace, key: str) -> None:
    """Go live, record the monitor's uptime, hold the three reviews and the retrospectives."""
    start = ws.ai_start_dates().get(key, date(2025, 4, 1))
    go_live = add_months(date(start.year, start.month, 1), 5)  # after the pilot and the selection
    with ws.program(PM) as program:
        program.go_live(PM, key, go_live)
    with ws.lifecycle(ML) as lc:
        for month in range(10):
            first = add_months(go_live, month)
            end = add_months(first, 1) - timedelta(days=1)
            lc.record_ops_figure(
                ML, key, "uptime", 0.9991 - 0.0002 * (month % 3), first, end, "service monitor"
            )
    with ws.program(PM) as program:
        for kind in ("day30", "day60", "day90"):
            program.complete_review(
                PM, key, kind, "keep the weekly frontline sessions; widen to the scale-up cohort"
            )


def _assess(ws: Workspace, key: str) -> None:
    _stakeholders(ws, key)
    _documents(ws, key, Phase.PILOT)
    _sign(ws, key, (Stage.APPROVAL,))
    _advance(ws, key)  # phase 1 -> 2 on the business case


def _choose_technology(ws: Workspace, key: str) -> None:
    _documents(ws, key, Phase.SELECT)
    _select(ws, key)
    _advance(ws, key)  # 3 -> 4: requirements met, an option selected


def _deploy_and_scale(ws: Workspace, key: str) -> None:
    _documents(ws, key, Phase.SCALE)
    _sign(ws, key, (Stage.PRE_DEPLOYMENT, Stage.DEPLOYMENT, Stage.POST_DEPLOYMENT))
    with ws.program(PM) as program:
        for risk in program.risks(PM, key)["risks"]:
            program.save_risk(PM, key, {"key": risk["key"], "status": "mitigating"})
    _advance(ws, key)  # 4 -> 5: training, assessments, use; pre-deployment and deployment sign-offs
    _operate(ws, key)
    _advance(ws, key)  # 5 -> 6: uptime, error rate, traceability, reviews, satisfaction, monitoring


def _journey(ws: Workspace, key: str) -> None:
    """How far each use case gets; a blocked gate raises and ends the journey there."""
    _assess(ws, key)
    if key == "clinical-documentation":
        _advance(ws, key)  # its pilot came back extend: blocked in phase 2
    elif key == "predictive-maintenance":
        _advance(ws, key, OVERRIDE)  # extend, overridden by the program manager
        _choose_technology(ws, key)
    else:
        _advance(ws, key)  # the pilot was adopted
        _choose_technology(ws, key)
        _deploy_and_scale(ws, key)


def record_use_cases(ws: Workspace) -> None:
    """The three use cases in the inventory, as their business owner records them (if missing).

    A separate step because the registry's models belong to a use case: the demo registers them
    before the program, so the phase-5 gate finds claims-triage's production model watched.
    """
    with ws.lifecycle(BO) as lc:
        known = {uc.key for uc in lc.list(BO)}
        for doc in USE_CASES:
            if doc["key"] not in known:
                lc.create(BO, doc)


def record_program(ws: Workspace) -> list[dict[str, Any]]:
    """Record the three use cases and move each through the gates its evidence allows.

    The 5 → 6 gate checks that the production models are watched by alert rules and that a
    runbook is linked: register the models and install the alert rules first
    (:func:`paceline.demo.run.build_demo` does), or claims-triage stays in phase 5.
    """
    record_use_cases(ws)
    for doc in USE_CASES:
        # a smaller or different firm's evidence stops a use case earlier: that is the point
        with suppress(GateBlocked):
            _journey(ws, doc["key"])
    out = []
    with ws.program(operator(), readonly=True) as program:
        for row in program.portfolio(operator()):
            gate = program.gates.evaluate(operator(), row["use_case"])
            out.append(
                {
                    "use_case": row["use_case"],
                    "phase": row["phase"],
                    "rank": row["rank"],
                    "gate": gate.summary(),
                }
            )
    return out
