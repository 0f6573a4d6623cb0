"""SQLAlchemy implementation of :class:`paceline.services.pilots.PilotRepository`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from paceline.domain.pilots import PilotSpec
from paceline.services.pilots import PilotRecordView, spec_from_dict
from paceline.storage.models import PilotRecord


def _view(row: PilotRecord) -> PilotRecordView:
    return PilotRecordView(
        spec_from_dict(dict(row.spec)), row.status, row.created_by, row.created_at.isoformat()
    )


class SqlPilotRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, name: str) -> PilotRecord | None:
        return self.session.scalars(select(PilotRecord).where(PilotRecord.name == name)).first()

    def get(self, name: str) -> PilotRecordView | None:
        row = self._row(name)
        return None if row is None else _view(row)

    def add(self, spec: PilotSpec, created_by: str) -> PilotRecordView:
        row = PilotRecord(
            name=spec.name,
            use_case=spec.use_case,
            status="planned",
            spec=spec.to_dict(),
            created_by=created_by,
            created_at=datetime.now(UTC),
        )
        self.session.add(row)
        self.session.flush()
        return _view(row)

    def list(self, use_case: str | None) -> list[PilotRecordView]:
        stmt = select(PilotRecord).order_by(PilotRecord.created_at.desc(), PilotRecord.id.desc())
        if use_case is not None:
            stmt = stmt.where(PilotRecord.use_case == use_case)
        return [_view(r) for r in self.session.scalars(stmt)]

    def set_status(self, name: str, status: str) -> None:
        row = self._row(name)
        if row is not None:
            row.status = status
