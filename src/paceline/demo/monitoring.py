"""The demo firm's model monitoring: the starter alert rules, judged week by week, and one incident.

The ML engineer installs the starter rules (:func:`install_rules`, before the program: the
phase-5 gate checks that the production models are watched and a runbook is linked, and each
rule names its runbook on the firm's wiki), and the alert job runs at the end of each of the
last :data:`WEEKS` weeks of the firm's predictions (what a weekly cron job would have done), so
the alerts page shows what the firm's own models and runtime produced: drift, calibration and
review signals computed from the data, not written by hand. The first drift alert, if the data
raises one, becomes an incident (starting with its rule's runbook) that the ML engineer
investigates, mitigates with a retraining request and resolves the next day, with a
retrospective, so the incident page and MTTR have a real record to show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from paceline.bootstrap import Workspace
from paceline.demo.lifecycle import ML, WIKI
from paceline.domain.alerts import DEFAULT_RULES
from paceline.services.access import operator

WEEKS = 4
RUNBOOKS = f"{WIKI}/runbooks"  # a rule's runbook: RUNBOOKS/<rule name>

Say = Callable[[str], None]


def _end_of_predictions(ws: Workspace) -> datetime:
    """Midnight (UTC) after the firm's last prediction: the demo's "now" for monitoring."""
    con = ws.warehouse_connection()
    last = con.table("predictions").predicted_at.max().execute()
    day = last.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(), tzinfo=UTC)


def _replay_incident(ws: Workspace, alert: dict[str, Any]) -> dict[str, Any]:
    """Open, investigate, mitigate and resolve an incident for *alert*, at the firm's dates."""
    at = [datetime.fromisoformat(str(alert["first_seen"])) + timedelta(hours=2)]

    def clock() -> datetime:
        return at[0]

    def later(hours: float) -> None:
        at[0] += timedelta(hours=hours)

    with ws.incidents(ML, clock=clock) as incidents:
        incident = incidents.open_from_alert(ML, alert["id"])  # with the rule's runbook
        key = incident["id"]
        later(0.5)
        if not incident["runbook_url"]:  # a rule of the workspace's own, kept without one
            incidents.set_runbook(ML, key, f"{RUNBOOKS}/{alert['rule']}")
        incidents.set_status(ML, key, "investigating", note="comparing this week's inputs with the reference")
        later(3)
        incidents.add_note(ML, key, "the drifted inputs follow a change in the upstream data feed")
    with ws.models(ML) as registry:
        registry.request_retraining(
            ML, alert["model"], "inputs drifted from the training data (see the incident)", incident_id=key
        )
    with ws.incidents(ML, clock=clock) as incidents:
        later(1)
        incidents.set_status(ML, key, "mitigated", note="review sampling raised while the model is retrained")
        later(20)
        incidents.resolve(
            ML, key, "retraining requested on the new data; reviewers check every suggestion meanwhile"
        )
        later(2)
        incidents.write_retrospective(
            ML,
            key,
            {
                "what_happened": "an upstream change shifted the model's inputs away from its training data",
                "impact": "suggestions were less reliable for a week; reviewers caught them",
                "root_cause": "the data feed changed without notice to the model's owners",
                "actions": [
                    {"text": "retrain on the last quarter's data", "owner": "demo-ml-engineer"},
                    {"text": "announce feed changes to the CoE", "owner": "demo-data-engineer"},
                ],
            },
        )
        return incidents.get(ML, key)


def install_rules(ws: Workspace) -> list[str]:
    """The starter alert rules the ML engineer installs, each naming its runbook on the firm's
    wiki; the names added (a rule already there is kept as it is)."""
    added = []
    with ws.alerts(ML) as alerts:
        known = {rule["name"] for rule in alerts.rules(ML)}
        for doc in DEFAULT_RULES:
            name = str(doc["name"])
            if name not in known:
                alerts.add_rule(ML, {**doc, "runbook_url": f"{RUNBOOKS}/{name}"})
                added.append(name)
    return added


def record_monitoring(ws: Workspace, say: Say | None = None) -> dict[str, Any]:
    """Run the weekly alert job over the last weeks (installing the starter rules if they are
    missing) and replay an incident."""
    tell = say or (lambda _: None)
    tell("judging the models and the runtime against the starter alert rules, week by week")
    install_rules(ws)
    end = _end_of_predictions(ws)
    counts: dict[str, int] = {}
    for week in range(WEEKS - 1, -1, -1):
        result = ws.evaluate_alerts(ML, notify=False, now=end - timedelta(weeks=week))
        for event, n in result["counts"].items():
            counts[event] = counts.get(event, 0) + n
    with ws.alerts(operator(), readonly=True) as alerts:
        listed = alerts.list(operator(), status="all")
    drift = [a for a in listed if str(a["signal"]).startswith("drift") and a["incident_id"] is None]
    incident = _replay_incident(ws, min(drift, key=lambda a: a["id"])) if drift else None
    return {
        "evaluated_until": end.isoformat(),
        "weeks": WEEKS,
        "alerts": counts,
        "open_alerts": sum(1 for a in listed if a["status"] != "resolved"),
        "incident": None if incident is None else {"id": incident["id"], "status": incident["status"]},
    }
