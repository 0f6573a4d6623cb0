"""Retention policies per table and the deletion job (``paceline retention run``).

Setting a policy and running the job need ``governance.manage``; reading them ``workspace.read``.
Each run deletes, table by table, the rows older than the policy's days and records what it
deleted and when (one row per table in ``gov_retention_runs``, itself audited); a dry run only
counts. Audit entries are never deleted (:mod:`paceline.domain.retention`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from paceline.domain.retention import NEVER, RETAINABLE, validate_policy
from paceline.domain.roles import Action
from paceline.services.access import Principal


class RetentionRecords(Protocol):
    def retention_policies(self) -> dict[str, dict[str, Any]]: ...
    def save_retention_policy(self, table: str, days: int, by: str) -> None: ...
    def add_retention_run(self, doc: dict[str, Any]) -> dict[str, Any]: ...
    def retention_runs(self, limit: int = 200) -> list[dict[str, Any]]: ...


class RetentionJobs(Protocol):
    def run(self, table: str, cutoff: datetime, dry_run: bool) -> dict[str, int]: ...


class RetentionService:
    def __init__(self, records: RetentionRecords, jobs: RetentionJobs) -> None:
        self.records, self.jobs = records, jobs

    def tables(self, by: Principal) -> list[dict[str, Any]]:
        """Every table with a retention job: what it deletes, its floor and its current policy."""
        by.require(Action.READ)
        policies = self.records.retention_policies()
        rows = [
            {
                "table": r.table,
                "deletes": r.what,
                "floor_days": r.floor_days,
                "days": policies.get(r.table, {}).get("days"),
            }
            for r in RETAINABLE.values()
        ]
        return rows + [
            {"table": t, "deletes": why, "floor_days": None, "days": None} for t, why in NEVER.items()
        ]

    def set_policy(self, by: Principal, table: str, days: int) -> dict[str, Any]:
        by.require(Action.GOVERNANCE_MANAGE)
        validate_policy(table, days)
        self.records.save_retention_policy(table, days, by.actor)
        return {"table": table, "days": days}

    def run(self, by: Principal, now: datetime, dry_run: bool = False) -> list[dict[str, Any]]:
        """Apply every policy once: the rows deleted (or, dry, that would be) per table."""
        by.require(Action.GOVERNANCE_MANAGE)
        out = []
        for table, policy in sorted(self.records.retention_policies().items()):
            cutoff = now - timedelta(days=int(policy["days"]))
            for name, count in self.jobs.run(table, cutoff, dry_run).items():
                doc = {
                    "table_name": name,
                    "cutoff": cutoff,
                    "deleted": count,
                    "dry_run": int(dry_run),
                    "ran_by": by.actor,
                }
                if not dry_run:
                    doc = self.records.add_retention_run(doc)
                out.append({**doc, "policy": table, "cutoff": cutoff.isoformat()})
        return out

    def runs(self, by: Principal, limit: int = 200) -> list[dict[str, Any]]:
        by.require(Action.READ)
        return self.records.retention_runs(limit)
