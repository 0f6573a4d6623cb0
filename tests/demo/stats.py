"""Independent estimators for the effect tests, written in DuckDB SQL over the generated tables.

They know only the canonical columns (what a firm exports), never the generator's
internals, and each returns an estimate with its standard error so the tests can
use tolerances derived from the sample size instead of loose bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import duckdb

from paceline.demo.params import FirmParams

Z = 4.0  # tolerance in standard errors: a false alarm would have odds of about 1 in 16,000


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float
    n: int

    def within(self, target: float, z: float = Z) -> bool:
        return abs(self.value - target) <= z * self.se


def month_start(params: FirmParams, month: int) -> date:
    """First day of timeline month *month* (computed here, not taken from the generator)."""
    start = params.timeline.start
    index = start.year * 12 + start.month - 1 + month
    return date(index // 12, index % 12 + 1, 1)


def person_did(con: duckdb.DuckDBPyConnection, observations: str, stat: str) -> Estimate:
    """Difference-in-differences with one value per person: mean over treated of (post - pre)
    minus the same over controls; SE from the spread of the person-level differences.

    *observations* yields ``person_id, arm ('treated'|'control'), post (bool), v``;
    *stat* aggregates ``v`` within a person and phase (e.g. ``ln(avg(v))``).
    """
    row = con.execute(f"""
        WITH obs AS ({observations}),
        phase AS (SELECT person_id, arm, post, {stat} AS s FROM obs GROUP BY ALL),
        per AS (
            SELECT person_id, arm, max(s) FILTER (WHERE post) - max(s) FILTER (WHERE NOT post) AS d
            FROM phase GROUP BY ALL
        )
        SELECT avg(d) FILTER (WHERE arm = 'treated') - avg(d) FILTER (WHERE arm = 'control'),
               var_samp(d) FILTER (WHERE arm = 'treated') / count(d) FILTER (WHERE arm = 'treated')
               + var_samp(d) FILTER (WHERE arm = 'control') / count(d) FILTER (WHERE arm = 'control'),
               count(d)
        FROM per
    """).fetchone()
    assert row is not None and row[0] is not None
    return Estimate(float(row[0]), math.sqrt(float(row[1])), int(row[2]))


def within_person(con: duckdb.DuckDBPyConnection, tasks: str) -> Estimate:
    """Mean over people of (mean ``v`` on assisted tasks - mean ``v`` on the others).

    *tasks* yields ``person_id, ai_assisted, v``; people need both kinds of task.
    """
    row = con.execute(f"""
        WITH t AS ({tasks}),
        per AS (
            SELECT person_id, avg(v) FILTER (WHERE ai_assisted) - avg(v) FILTER (WHERE NOT ai_assisted) AS d
            FROM t GROUP BY person_id
        )
        SELECT avg(d), var_samp(d) / count(d), count(d) FROM per WHERE d IS NOT NULL
    """).fetchone()
    assert row is not None and row[0] is not None
    return Estimate(float(row[0]), math.sqrt(float(row[1])), int(row[2]))


def mantel_haenszel(con: duckdb.DuckDBPyConnection, tasks: str) -> Estimate:
    """Log risk ratio of ``error`` on assisted vs other tasks, stratified by person.

    Stratifying compares each person with themself, so who happens to do more
    assisted work does not bias the ratio. SE: Greenland-Robins (1985).
    *tasks* yields ``person_id, ai_assisted, error``.
    """
    row = con.execute(f"""
        WITH t AS ({tasks}),
        s AS (
            SELECT person_id,
                   count(*) FILTER (WHERE ai_assisted) AS n1, count(*) FILTER (WHERE NOT ai_assisted) AS n0,
                   count(*) FILTER (WHERE ai_assisted AND error) AS a,
                   count(*) FILTER (WHERE NOT ai_assisted AND error) AS c,
                   count(*) AS n
            FROM t GROUP BY person_id HAVING n1 > 0 AND n0 > 0
        )
        SELECT sum(a * n0 / n), sum(c * n1 / n),
               sum((n1 * n0 * (a + c) - a * c * n) / (n * n)), count(*)
        FROM s
    """).fetchone()
    assert row is not None
    r, s, p, people = (float(v) for v in row)
    return Estimate(math.log(r / s), math.sqrt(p / (r * s)), int(people))
