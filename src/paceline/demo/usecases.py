"""The demo firm's three use cases as a program manager would record them in phase 1, with the
technology options assessed in phase 3 and the architecture requirements verified there.

Volumes and minutes follow the firm's generated work (params.py); costs per hour, error
costs and uplift ranges are the planning assumptions a firm would start from, with the
expected uplifts taken from the case studies the demo is calibrated on (notes/data.md).
"""

from __future__ import annotations

from typing import Any

READY = {"data_available": 4, "quality_measured": 3, "lineage_documented": 3, "integration_access": 3}

USE_CASES: list[dict[str, Any]] = [
    {
        "key": "claims-triage",
        "title": "Claims triage with pre-filled forms and routing",
        "owner": "demo-business-owner",
        "business_process": "First notice of loss to routing",
        "department": "Claims",
        "geography": "EU",
        "goal": "Shorter handling time and fewer misrouted claims",
        "status": "active",
        "data_categories": ["personal", "financial", "customer"],
        "people_affected": 320,
        "models": ["claims-router"],
        "vendors": ["Hosted LLM provider"],
        "value": {
            "volume_per_year": 380000,
            "minutes_per_task": 38,
            "cost_per_hour": 58,
            "uplift_low": 0.15,
            "uplift_expected": 0.3,
            "uplift_high": 0.4,
            "error_rate": 0.08,
            "error_cost": 140,
            "error_reduction": 0.25,
            "expected_adoption": 0.7,
            "annual_cost": 420000,
        },
        "readiness": {**READY, "labels_exist": 3, "privacy_basis": 4},
        "feasibility": {
            "users_involved": 4,
            "fits_workflow": 3,
            "sponsor_committed": 4,
            "training_capacity": 3,
            "change_saturation_low": 2,
            "champions_available": 3,
        },
        "risk_likelihood": 3,
        "risk_impact": 3,
        "ai_act": ["generates_synthetic_content"],
    },
    {
        "key": "clinical-documentation",
        "title": "AI scribe drafting clinical notes",
        "owner": "demo-business-owner",
        "business_process": "Encounter documentation and coding",
        "department": "Clinical services",
        "geography": "EU",
        "goal": "Less documentation time per encounter, more patient-facing time",
        "status": "active",
        "data_categories": ["health", "personal"],
        "people_affected": 200,
        "models": ["scribe-llm"],
        "vendors": ["Clinical speech vendor"],
        "value": {
            "volume_per_year": 210000,
            "minutes_per_task": 16,
            "cost_per_hour": 95,
            "uplift_low": 0.2,
            "uplift_expected": 0.35,
            "uplift_high": 0.45,
            "error_rate": 0.09,
            "error_cost": 60,
            "error_reduction": 0.2,
            "expected_adoption": 0.6,
            "annual_cost": 520000,
        },
        "readiness": {**READY, "labels_exist": 1, "privacy_basis": 2},
        "feasibility": {
            "users_involved": 3,
            "fits_workflow": 3,
            "sponsor_committed": 3,
            "training_capacity": 2,
            "change_saturation_low": 1,
            "champions_available": 3,
        },
        "risk_likelihood": 3,
        "risk_impact": 5,
        "ai_act": ["generates_synthetic_content"],
    },
    {
        "key": "predictive-maintenance",
        "title": "Predictive maintenance with an operator troubleshooting guide",
        "owner": "demo-business-owner",
        "business_process": "Fault diagnosis and repair",
        "department": "Operations",
        "geography": "EU plants",
        "goal": "Less unplanned downtime and faster repairs",
        "status": "active",
        "data_categories": ["operational", "employee"],
        "people_affected": 160,
        "models": ["failure-predictor"],
        "vendors": [],
        "value": {
            "volume_per_year": 52000,
            "minutes_per_task": 95,
            "cost_per_hour": 62,
            "uplift_low": 0.1,
            "uplift_expected": 0.25,
            "uplift_high": 0.35,
            "error_rate": 0.07,
            "error_cost": 900,
            "error_reduction": 0.2,
            "expected_adoption": 0.65,
            "annual_cost": 310000,
        },
        "readiness": {**READY, "labels_exist": 2, "privacy_basis": 4},
        "feasibility": {
            "users_involved": 3,
            "fits_workflow": 2,
            "sponsor_committed": 4,
            "training_capacity": 3,
            "change_saturation_low": 3,
            "champions_available": 2,
        },
        "risk_likelihood": 2,
        "risk_impact": 3,
        "ai_act": [],
    },
]


def _option(name: str, kind: str, scores: list[int], cost: dict[str, float], notes: str) -> dict[str, Any]:
    criteria = ("apis", "data_controls", "explainability", "latency", "security", "interoperability")
    return {
        "name": name,
        "kind": kind,
        "scores": dict(zip((*criteria, "exportability", "cost"), scores, strict=True)),
        "cost": cost,
        "notes": notes,
    }


OPTIONS: dict[str, list[dict[str, Any]]] = {
    "claims-triage": [
        _option(
            "Hosted LLM with EU data residency",
            "vendor",
            [5, 4, 3, 4, 4, 4, 3, 3],
            {
                "tokens_in_per_task": 3200,
                "tokens_out_per_task": 450,
                "price_in_per_million": 2.5,
                "price_out_per_million": 10,
                "infrastructure_per_month": 6500,
                "licences_per_year": 60000,
            },
            "structured output, EU region, audit logs exportable",
        ),
        _option(
            "Self-hosted open-weights model",
            "architecture",
            [3, 5, 3, 3, 4, 3, 5, 2],
            {"infrastructure_per_month": 21000, "other_per_year": 90000},
            "full control, needs an MLOps team",
        ),
    ],
    "predictive-maintenance": [
        _option(
            "In-house gradient boosting on the sensor lake",
            "model",
            [4, 5, 4, 5, 4, 3, 5, 4],
            {"infrastructure_per_month": 9000, "other_per_year": 40000},
            "SCADA adapters needed; explanations per alert",
        ),
        _option(
            "Industrial IoT vendor suite",
            "vendor",
            [4, 3, 3, 4, 4, 4, 2, 3],
            {"price_per_call": 0.4, "calls_per_task": 3, "licences_per_year": 150000},
            "fast start, proprietary model format",
        ),
    ],
}

REQUIREMENTS: dict[str, list[tuple[str, str, str, str]]] = {
    "claims-triage": [
        ("latency", "Suggestion shown while the claim is open", "p95 < 3 s", "p95 2.1 s in the load test"),
        ("security", "Penetration test and data-flow review", "no high findings", "0 high, 2 low (fixed)"),
        ("interoperability", "Claims system integration", "REST + idempotent writes", "contract tests pass"),
    ],
    "predictive-maintenance": [
        ("latency", "Alert to operator device", "p95 < 60 s", "p95 24 s in the plant trial"),
        ("security", "OT network segmentation review", "no path from IT to PLCs", "verified by IT/security"),
        ("interoperability", "SCADA historian adapter", "OPC UA read-only", "adapter certified on 3 plants"),
    ],
}
