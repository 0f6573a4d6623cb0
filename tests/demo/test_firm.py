"""Shape, determinism and integrity of the generated firm (no bad rows in the demo)."""

from __future__ import annotations

import io
import re

import duckdb
import pyarrow.parquet as pq
import pytest

from paceline.demo.firm import LOAD_ORDER, Firm, generate_firm
from paceline.demo.params import FirmParams
from paceline.domain.tables import TABLES
from paceline.errors import ValidationError
from tests.demo.stats import month_start


def _parquet_bytes(firm: Firm) -> dict[str, bytes]:
    out = {}
    for name, table in firm.tables.items():
        buf = io.BytesIO()
        pq.write_table(table, buf)
        out[name] = buf.getvalue()
    return out


def test_every_table_has_exactly_the_canonical_columns(small_params: FirmParams) -> None:
    firm = generate_firm(small_params, seed=1)
    assert tuple(firm.tables) == LOAD_ORDER and set(LOAD_ORDER) == set(TABLES)
    for name, table in firm.tables.items():
        assert table.column_names == list(TABLES[name].column_names), name
        assert table.num_rows > 0, name


def test_same_seed_gives_byte_identical_tables(small_params: FirmParams) -> None:
    first, again = generate_firm(small_params, seed=11), generate_firm(small_params, seed=11)
    for name in LOAD_ORDER:
        assert first.tables[name].equals(again.tables[name]), name
    assert _parquet_bytes(first) == _parquet_bytes(again)


def test_another_seed_gives_another_firm(small_params: FirmParams) -> None:
    first, other = generate_firm(small_params, seed=11), generate_firm(small_params, seed=12)
    for name in ("people", "task_events", "usage_events", "predictions", "survey_responses"):
        assert not first.tables[name].equals(other.tables[name]), name


def test_the_default_firm_has_the_promised_size(firm: Firm, duck: duckdb.DuckDBPyConnection) -> None:
    """600-1,000 people, 12+ months, every tenure band, and 1-2 million task events or fewer."""
    assert 600 <= firm.rows["people"] <= 1000 and firm.params.timeline.months >= 12
    assert 500_000 <= firm.rows["task_events"] <= 2_000_000
    bands = duck.execute("""
        SELECT DISTINCT CASE WHEN age(CAST(completed_at AS DATE), hire_date) < INTERVAL 6 MONTH THEN '<6m'
                             WHEN age(CAST(completed_at AS DATE), hire_date) < INTERVAL 12 MONTH THEN '6-12m'
                             WHEN age(CAST(completed_at AS DATE), hire_date) < INTERVAL 36 MONTH THEN '1-3y'
                             ELSE '3y+' END
        FROM task_events JOIN people USING (person_id)
    """).fetchall()
    assert {b for (b,) in bands} == {"<6m", "6-12m", "1-3y", "3y+"}


def test_no_row_breaks_a_rule(duck: duckdb.DuckDBPyConnection) -> None:
    """Orderings, enums, scales and unique ids hold on every row."""
    checks = {
        "task order": """SELECT count(*) FROM task_events
                         WHERE NOT (opened_at <= started_at AND started_at <= completed_at)""",
        "effort fits": """SELECT count(*) FROM task_events
                          WHERE effort_seconds > epoch(completed_at) - epoch(started_at)""",
        "task ids": "SELECT count(*) - count(DISTINCT task_id) FROM task_events",
        "event ids": "SELECT count(*) - count(DISTINCT event_id) FROM task_events",
        "usage ids": "SELECT count(*) - count(DISTINCT event_id) FROM usage_events",
        "prediction ids": "SELECT count(*) - count(DISTINCT prediction_id) FROM predictions",
        "automation": "SELECT count(*) FROM task_events WHERE automation NOT IN ('none', 'partial', 'full')",
        "quality": "SELECT count(*) FROM task_events WHERE quality < 0 OR quality > 1",
        "actions": """SELECT count(*) FROM usage_events WHERE action NOT IN ('session', 'suggestion_shown',
                      'suggestion_accepted', 'suggestion_edited', 'suggestion_rejected', 'feedback')""",
        "scales": """SELECT count(*) FROM survey_responses WHERE score <> round(score)
                     OR (survey = 'nps' AND score NOT BETWEEN 0 AND 10)
                     OR (survey IN ('csat', 'esat') AND score NOT BETWEEN 1 AND 5)""",
        "labels": """SELECT count(*) FROM labels
                     WHERE prediction_id NOT IN (SELECT prediction_id FROM predictions)""",
        "label time": """SELECT count(*) FROM labels l JOIN predictions p USING (prediction_id)
                         WHERE labeled_at < predicted_at""",
        "task links": """SELECT count(*) FROM (SELECT task_id FROM predictions UNION ALL
                         SELECT task_id FROM usage_events UNION ALL SELECT task_id FROM survey_responses)
                         WHERE task_id IS NOT NULL AND task_id NOT IN (SELECT task_id FROM task_events)""",
        "costs": "SELECT count(*) FROM costs WHERE period_end < period_start OR amount <= 0",
        "person ids": r"""SELECT count(*) FROM task_events
                          WHERE NOT regexp_full_match(person_id, 'emp-\d{4}|system')""",
    }
    broken = {name: duck.execute(sql).fetchone()[0] for name, sql in checks.items()}  # type: ignore[index]
    assert broken == dict.fromkeys(checks, 0)


def test_ai_is_used_only_once_switched_on(firm: Firm, duck: duckdb.DuckDBPyConnection) -> None:
    """AI use only after the person's ai_enabled_from; full automation only by ``system``, after scale-up."""
    scale = month_start(firm.params, firm.params.timeline.scale_up).isoformat()
    early = duck.execute("""
        SELECT (SELECT count(*) FROM task_events t JOIN assignments a USING (person_id, use_case)
                WHERE t.ai_assisted AND (a.ai_enabled_from IS NULL OR t.started_at < a.ai_enabled_from)),
               (SELECT count(*) FROM usage_events u JOIN assignments a USING (person_id, use_case)
                WHERE u.occurred_at < a.ai_enabled_from - INTERVAL 1 DAY),
               (SELECT count(*) FROM usage_events WHERE action LIKE 'suggestion%' AND task_id NOT IN
                   (SELECT task_id FROM task_events WHERE ai_assisted))
    """).fetchone()
    assert early == (0, 0, 0)
    full = duck.execute(f"""
        SELECT count(*) FILTER (WHERE person_id <> 'system'),
               count(*) FILTER (WHERE started_at < DATE '{scale}'),
               count(*) FILTER (WHERE NOT ai_assisted), count(*)
        FROM task_events WHERE automation = 'full'
    """).fetchone()
    assert full is not None and full[:3] == (0, 0, 0) and full[3] > 0


def test_each_pilot_has_its_design(duck: duckdb.DuckDBPyConnection) -> None:
    """Claims: pilot/control by person; clinical: whole sites treated or control; maintenance: three waves."""
    rows = dict(
        duck.execute("""
            SELECT use_case, list(DISTINCT cohort ORDER BY cohort) FROM assignments GROUP BY use_case
        """).fetchall()
    )
    assert rows == {
        "claims-triage": ["control", "pilot", "scale-up"],
        "clinical-documentation": ["control", "pilot"],
        "predictive-maintenance": ["wave-1", "wave-2", "wave-3"],
    }
    mixed_sites = duck.execute("""
        SELECT count(*) FROM (SELECT team FROM assignments JOIN people USING (person_id)
        WHERE use_case = 'clinical-documentation' GROUP BY team HAVING count(DISTINCT cohort) > 1)
    """).fetchone()
    waves = duck.execute("""
        SELECT cohort, min(ai_enabled_from) FROM assignments WHERE use_case = 'predictive-maintenance'
        GROUP BY cohort ORDER BY cohort
    """).fetchall()
    assert mixed_sites == (0,)
    assert [d for _, d in waves] == sorted({d for _, d in waves})  # three distinct, increasing dates


def test_small_firms_and_bad_sizes(small_params: FirmParams) -> None:
    firm = generate_firm(small_params, seed=3)
    assert firm.rows["people"] == 60
    assert re.fullmatch(r"emp-\d{4}", firm.tables["people"].column("person_id")[0].as_py())
    with pytest.raises(ValidationError):
        FirmParams.sized(people=10)
    with pytest.raises(ValidationError):
        FirmParams.sized(months=2)
