"""Monthly costs per use case, for ROI: licences, compute, program people and training.

Costs are computed from the generated firm (seats switched on, AI-handled tasks,
people newly enabled), so ROI in the demo moves with adoption the way it would
in a real program; the unit prices are :class:`paceline.demo.params.Costs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from paceline.demo.firm.calendar import Calendar
from paceline.demo.firm.org import USE_CASES, Org
from paceline.demo.firm.tables import build, dates
from paceline.demo.firm.work import Work
from paceline.demo.params import FirmParams

CATEGORIES = ("license", "compute", "people", "training")


def _month_amounts(org: Org, cal: Calendar, work: Work, params: FirmParams) -> np.ndarray:
    """Amounts [month, category] of one use case."""
    c, tl = params.costs, cal.timeline
    u = USE_CASES.index(work.use_case)
    enabled = org.enabled_from[org.members(work.use_case)]
    months = np.arange(tl.months)
    ends = cal.month_starts[1:]
    seats = (enabled[None, :] < ends[:, None]).sum(axis=1)
    fresh = np.bincount(np.clip(cal.month_of(enabled[~np.isnat(enabled)]), 0, None), minlength=tl.months)
    handled = np.bincount(cal.month[work.tasks.day[work.tasks.assisted]], minlength=tl.months)
    fte = np.where(months < tl.pilot_start - 1, 0.0, np.where(months < tl.scale_up, c.pilot_fte, c.scale_fte))
    out = np.stack(
        [
            seats * c.license_per_seat[u],
            handled[: tl.months] * c.compute_per_task[u],
            fte * c.program_fte_cost,
            fresh[: tl.months] * c.training_per_person[u],
        ],
        axis=1,
    )
    return np.round(out, 2)


def costs(org: Org, cal: Calendar, works: Sequence[Work], params: FirmParams) -> pa.Table:
    """One row per use case, month and category with a non-zero amount."""
    case, month, category, amount = [], [], [], []
    for work in works:
        table = _month_amounts(org, cal, work, params)
        m, k = np.nonzero(table > 0)
        case += [work.use_case] * m.size
        month.append(m)
        category += [CATEGORIES[i] for i in k]
        amount.append(table[m, k])
    m_all = np.concatenate(month)
    return build(
        "costs",
        {
            "use_case": pa.array(case, pa.string()),
            "period_start": dates(cal.month_starts[m_all]),
            "period_end": dates(cal.month_starts[m_all + 1] - np.timedelta64(1, "D")),
            "category": pa.array(category, pa.string()),
            "amount": np.concatenate(amount),
            "currency": pa.array([params.costs.currency] * m_all.size, pa.string()),
        },
    )
