"""A small workflow for the runtime tests: approve an expense unless it is large or unclear."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from paceline.domain.workflow import CaseContext, RuleHit, Suggestion, Thresholds, Workflow
from paceline.runtime.models import CallableModel


class Expense(BaseModel):
    amount: float = Field(ge=0)
    category: str
    description: str = ""


def _score(features: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    clear = features["category"] in ("travel", "meals")
    return {"decision": "approve" if clear else "query"}, 0.95 if clear else 0.6


class ExpenseCheck(Workflow):
    name = "expense-check"
    title = "Expense check"
    use_case = "claims-triage"
    payload_model = Expense
    example_payload: ClassVar[dict[str, Any]] = {
        "amount": 120.0,
        "category": "travel",
        "description": "train",
    }
    queue = "finance"
    thresholds = Thresholds(auto_complete=0.9, qa_sample_rate=0.0)

    def predictor(self, variant: str) -> CallableModel:
        return CallableModel("expense-rules", "1", _score)

    def suggest(self, ctx: CaseContext, features: dict[str, Any], call: Any) -> Suggestion:
        return Suggestion(call.prediction, call.confidence, (f"category {features['category']}",))

    def rules(self, ctx: CaseContext, features: dict[str, Any], suggestion: Suggestion) -> list[RuleHit]:
        if features["amount"] > 1000:
            return [RuleHit("amount_limit", f"amount {features['amount']} is over the 1000 limit")]
        return []
