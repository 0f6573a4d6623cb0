"""The demo firm's three workflows, one per case study of the framework (section 5).

* ``claims-triage`` (case A): a claim's intake form; a decision tree suggests the routing
  queue. Deterministic rule checks force a person's review, as the case study recommends
  ("rule-based checks remained essential to catch edge cases"): an amount over the limit,
  missing fields on the form, and any suggested fraud (SIU) referral.
* ``clinical-documentation`` (case B): an encounter's transcript facts; a logistic regression
  suggests the visit's billing level and the note template follows from the visit type. A
  clinician signs every note ("physician involvement at every stage"): nothing completes
  without review.
* ``predictive-maintenance`` (case C): an AI4I sensor reading; a decision tree suggests the
  failure mode, and the suggestion carries the simple next step the case study asks for.
  A predicted failure, a tool in its replacement window or an implausible sensor value goes
  to a technician; a quiet, confidently normal reading completes automatically.

The models are scikit-learn estimators trained on the demo firm's own history
(:mod:`paceline.demo.workflow_models`), read from ``<workspace>/models/`` and served through
:class:`paceline.runtime.models.SklearnModel`. They are published under the
``paceline.workflows`` entry points, so any workspace's runtime can run them.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from paceline.demo.workflow_models import (
    EXAMPLES,
    NEXT_ACTION,
    WEAR_WINDOW,
    claim_features,
    encounter_features,
    load_model,
    reading_features,
)
from paceline.domain.workflow import CaseContext, ModelOutput, RuleHit, Suggestion, Thresholds, Workflow
from paceline.runtime.models import SklearnModel
from paceline.settings import default_home


class Claim(BaseModel):
    """A claim as the intake form has it. Policy number and incident date may be blank: a rule
    check then sends the claim to an adjuster instead of refusing it at the door."""

    policy_number: str | None = Field(None, description="The policy the claim is made under.")
    line: Literal["auto", "home", "health", "travel"] = Field(description="The insurance line.")
    channel: str = Field(
        min_length=1, max_length=40, description="How it came in: web, phone, broker, app (or a new one)."
    )
    amount: float = Field(gt=0, description="The claimed amount.")
    currency: str = Field("EUR", min_length=3, max_length=3)
    incident_date: date | None = Field(None, description="When the loss happened.")
    prior_claims: int = Field(0, ge=0, description="Earlier claims on the policy.")
    doc_pages: int = Field(ge=0, description="Pages of documents attached.")
    description: str = Field("", max_length=4000)


class Encounter(BaseModel):
    """What the scribe knows of a visit when the note is drafted."""

    specialty: str = Field(min_length=1, max_length=80, description="e.g. family-medicine, cardiology.")
    visit_type: Literal["new", "follow-up", "procedure"]
    transcript_minutes: float = Field(gt=0, le=600, description="Length of the visit's transcript.")
    speakers: int = Field(2, ge=1, le=20)


class Reading(BaseModel):
    """One sensor reading of a machine (the AI4I 2020 variables)."""

    machine_id: str = Field(min_length=1, max_length=80)
    type: Literal["L", "M", "H"] = Field(description="Product quality variant: low, medium, high.")
    air_temperature_k: float = Field(gt=0)
    process_temperature_k: float = Field(gt=0)
    rotational_speed_rpm: float = Field(ge=0)
    torque_nm: float = Field(ge=0)
    tool_wear_min: float = Field(ge=0)
    recorded_at: datetime | None = None


class DemoWorkflow(Workflow):
    """A workflow whose model is the demo's scikit-learn model for it.

    *models_dir* is where its models are saved (default: ``models/`` in the workspace of
    ``$PACELINE_HOME`` or ``./.paceline``, the home the workspace itself resolves). Without a
    saved model the baseline is trained in memory on a small generated firm.
    """

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = models_dir
        self._models: dict[str, SklearnModel] = {}
        self._lock = threading.Lock()

    def predictor(self, variant: str) -> SklearnModel:
        with self._lock:
            if variant not in self._models:
                where = self.models_dir if self.models_dir is not None else default_home() / "models"
                self._models[variant] = load_model(self.name, where, variant)
            return self._models[variant]


class ClaimsTriage(DemoWorkflow):
    name = "claims-triage"
    title = "Claims triage: route each claim to the right queue"
    use_case = "claims-triage"
    payload_model = Claim
    example_payload: ClassVar[dict[str, Any]] = EXAMPLES["claims-triage"]
    queue = "claims"
    thresholds = Thresholds(auto_complete=0.9, qa_sample_rate=0.05, review_sla_hours=24.0)
    amount_limit: ClassVar[float] = 15_000.0  # above it an adjuster signs off (the firm's authority limit)
    required: ClassVar[tuple[str, ...]] = ("policy_number", "incident_date")

    def extract(self, ctx: CaseContext) -> dict[str, Any]:
        return claim_features(ctx.payload) | {
            "amount": float(ctx.payload["amount"]),
            "missing": [f for f in self.required if not ctx.payload.get(f)],
        }

    def suggest(self, ctx: CaseContext, features: dict[str, Any], call: ModelOutput) -> Suggestion:
        p = ctx.payload
        why = (
            f"{p['line']} claim of {p['amount']:,.2f} {p['currency']} by {p['channel']}",
            f"{p['prior_claims']} prior claim(s) on the policy, {p['doc_pages']} page(s) attached",
        )
        return Suggestion(dict(call.prediction), call.confidence, why)

    def rules(self, ctx: CaseContext, features: dict[str, Any], suggestion: Suggestion) -> list[RuleHit]:
        hits = []
        if features["amount"] > self.amount_limit:
            hits.append(
                RuleHit(
                    "amount_limit",
                    f"amount {features['amount']:,.2f} is over the {self.amount_limit:,.0f} limit",
                )
            )
        if features["missing"]:
            hits.append(RuleHit("missing_fields", f"the form misses {', '.join(features['missing'])}"))
        if suggestion.output.get("queue") == "siu":
            hits.append(
                RuleHit("fraud_referral", "a referral to the special investigations unit needs a person")
            )
        return hits

    def action(self, ctx: CaseContext, final: dict[str, Any]) -> dict[str, Any] | None:
        return {"claim": ctx.external_id, "queue": final.get("queue")}


NOTE_TEMPLATES = {"new": "soap-new-patient", "follow-up": "soap-follow-up", "procedure": "procedure-note"}


class ClinicalDocumentation(DemoWorkflow):
    name = "clinical-documentation"
    title = "Clinical documentation: billing level and note template of each visit"
    use_case = "clinical-documentation"
    payload_model = Encounter
    example_payload: ClassVar[dict[str, Any]] = EXAMPLES["clinical-documentation"]
    queue = "clinicians"
    # Above 1: never automatic. The clinician signs every note; the model drafts.
    thresholds = Thresholds(auto_complete=1.01, qa_sample_rate=0.0, review_sla_hours=48.0)
    short_transcript_minutes: ClassVar[float] = 3.0

    def extract(self, ctx: CaseContext) -> dict[str, Any]:
        return encounter_features(ctx.payload) | {"transcript_minutes": ctx.payload["transcript_minutes"]}

    def suggest(self, ctx: CaseContext, features: dict[str, Any], call: ModelOutput) -> Suggestion:
        p = ctx.payload
        why = (
            f"{p['visit_type']} visit in {p['specialty']}, transcript {p['transcript_minutes']:.1f} min",
            f"note template: {NOTE_TEMPLATES[p['visit_type']]}",
        )
        return Suggestion(dict(call.prediction), call.confidence, why)

    def rules(self, ctx: CaseContext, features: dict[str, Any], suggestion: Suggestion) -> list[RuleHit]:
        hits = []
        if suggestion.output.get("billing_code") == "99215":
            hits.append(RuleHit("highest_level", "99215 is the highest level: the note must support it"))
        if features["transcript_minutes"] < self.short_transcript_minutes:
            hits.append(
                RuleHit(
                    "short_transcript",
                    f"a transcript under {self.short_transcript_minutes:.0f} minutes may not support a note",
                )
            )
        return hits

    def action(self, ctx: CaseContext, final: dict[str, Any]) -> dict[str, Any] | None:
        return {
            "encounter": ctx.external_id,
            "billing_code": final.get("billing_code"),
            "note_template": NOTE_TEMPLATES[ctx.payload["visit_type"]],
        }


# Plausible sensor ranges (K, K, rpm, Nm): a reading outside them is more likely a sensor fault.
SENSOR_RANGES = {
    "air_temperature_k": (290.0, 310.0),
    "process_temperature_k": (300.0, 320.0),
    "rotational_speed_rpm": (1000.0, 3000.0),
    "torque_nm": (0.0, 80.0),
}


class PredictiveMaintenance(DemoWorkflow):
    name = "predictive-maintenance"
    title = "Predictive maintenance: failure mode and next step for a machine reading"
    use_case = "predictive-maintenance"
    payload_model = Reading
    example_payload: ClassVar[dict[str, Any]] = EXAMPLES["predictive-maintenance"]
    queue = "technicians"
    thresholds = Thresholds(auto_complete=0.9, qa_sample_rate=0.05, review_sla_hours=8.0)

    def extract(self, ctx: CaseContext) -> dict[str, Any]:
        return reading_features(ctx.payload)

    def suggest(self, ctx: CaseContext, features: dict[str, Any], call: ModelOutput) -> Suggestion:
        mode = str(call.prediction.get("failure_mode"))
        why = (
            f"next step: {NEXT_ACTION.get(mode, 'inspect the machine')}",
            f"temperature difference {features['temperature_difference_k']:.1f} K, "
            f"power {features['power_w']:,.0f} W, tool wear {features['tool_wear_min']:.0f} min",
        )
        return Suggestion(dict(call.prediction), call.confidence, why)

    def rules(self, ctx: CaseContext, features: dict[str, Any], suggestion: Suggestion) -> list[RuleHit]:
        hits = []
        mode = suggestion.output.get("failure_mode")
        if mode != "none":
            hits.append(RuleHit("failure_predicted", f"{mode} opens a work order: a technician confirms it"))
        if features["tool_wear_min"] >= WEAR_WINDOW[0]:
            hits.append(
                RuleHit(
                    "tool_wear_window",
                    f"tool wear {features['tool_wear_min']:.0f} min is in the replacement window "
                    f"({WEAR_WINDOW[0]:.0f}-{WEAR_WINDOW[1]:.0f} min)",
                )
            )
        odd = [k for k, (lo, hi) in SENSOR_RANGES.items() if not lo <= features[k] <= hi]
        if odd:
            hits.append(
                RuleHit("sensor_range", f"outside the plausible range: {', '.join(odd)}; check the sensor")
            )
        return hits

    def action(self, ctx: CaseContext, final: dict[str, Any]) -> dict[str, Any] | None:
        mode = str(final.get("failure_mode"))
        return {
            "machine_id": ctx.payload["machine_id"],
            "failure_mode": mode,
            "next_action": NEXT_ACTION.get(mode, "inspect the machine"),
            "work_order": mode != "none",
        }


WORKFLOWS: tuple[type[DemoWorkflow], ...] = (ClaimsTriage, ClinicalDocumentation, PredictiveMaintenance)
