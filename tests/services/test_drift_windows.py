"""Drift over the predictions table: a reference window against weekly windows, in a real workspace.

The model's inputs shift from week 6 (larger amounts, a new channel); the statistics of
each window must equal scipy's on the same rows, read back from the frame that was ingested.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from paceline.analytics.drift import DriftPolicy
from paceline.bootstrap import Workspace
from paceline.domain.roles import Grant, Role
from paceline.errors import NotFound, PermissionDenied, ValidationError
from paceline.services.access import Principal
from paceline.services.drift_windows import Window, drift_over_windows, parse_every, rolling_windows
from tests.analytics.test_drift import numpy_psi

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
DAYS = 56
MODEL, UC = "claims-router", "claims-triage"


def predictions(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(DAYS):
        late = day >= 35  # weeks 6-8: the inputs drift
        for i in range(40):
            channel = rng.choice(["web", "phone", "app"] if late else ["web", "phone"])
            features = {
                "amount": round(float(rng.lognormal(7.5 if late else 7.0, 0.8)), 2),
                "channel": str(channel),
                "pages": int(rng.integers(1, 9)),
                "meta": {"source": "form"},
            }
            if i % 10 == 0:
                features.pop("amount")  # missing in some rows
            rows.append(
                {
                    "prediction_id": f"p-{day}-{i}",
                    "model": MODEL,
                    "model_version": "1.0" if day < 42 else "1.1",
                    "use_case": UC,
                    "predicted_at": START + timedelta(days=day, minutes=int(rng.integers(0, 1440))),
                    "prediction": str(rng.choice(["fast", "standard", "special"], p=[0.5, 0.3, 0.2])),
                    "score": round(float(rng.beta(5, 2)), 4),
                    "features": json.dumps(features),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def ws_and_frame(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, pd.DataFrame]]:
    folder = tmp_path_factory.mktemp("drift-windows")
    frame = predictions()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "predictions.parquet")
    ws = Workspace.init(folder / "ws")
    assert ws.ingest("predictions", folder / "predictions.parquet").loaded == len(frame)
    yield ws, frame
    ws.close()


def _window(frame: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    w = Window.days(first, last)
    return frame[(frame.predicted_at >= w.start) & (frame.predicted_at < w.end)]


def _amounts(frame: pd.DataFrame) -> np.ndarray:
    values = [json.loads(f).get("amount") for f in frame.features]
    return np.array([v for v in values if v is not None], dtype=float)


def test_weekly_windows_after_the_reference(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = ws_and_frame
    reports = ws.drift_windows(MODEL, reference=("2026-01-05", "2026-02-01"), every="7d")
    assert [r.windows["current"]["start"][:10] for r in reports] == [  # type: ignore[index]
        "2026-02-02",
        "2026-02-09",
        "2026-02-16",
        "2026-02-23",
    ]
    first = reports[0]
    assert [c.column for c in first.columns] == ["amount", "channel", "pages", "prediction", "score"]
    assert first.skipped == {"meta": "nested JSON objects or arrays are not compared"}
    kinds = {c.column: c.kind.value for c in first.columns}
    assert kinds["amount"] == "numeric" and kinds["channel"] == "categorical" and kinds["score"] == "numeric"
    assert first.reference_rows == 28 * 40 and first.current_rows == 7 * 40
    assert first.column("amount").missing_share == pytest.approx(0.1)


def test_window_statistics_equal_scipy_on_the_same_rows(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    ws, frame = ws_and_frame
    (report,) = ws.drift_windows(
        MODEL, reference=("2026-01-05", "2026-02-01"), current=("2026-02-16", "2026-02-22")
    )
    ref = _window(frame, date(2026, 1, 5), date(2026, 2, 1))
    cur = _window(frame, date(2026, 2, 16), date(2026, 2, 22))
    r, c = _amounts(ref), _amounts(cur)
    col = report.column("amount")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = stats.ks_2samp(r, c)
    assert col.ks == ks.statistic and col.ks_p_value == pytest.approx(ks.pvalue, rel=1e-9)
    assert col.wasserstein == pytest.approx(stats.wasserstein_distance(r, c), rel=1e-9)
    assert col.psi == pytest.approx(numpy_psi(r, c), abs=1e-12)
    assert col.drifted  # the amounts grew by e^0.5
    score = report.column("score")
    assert score.ks == stats.ks_2samp(ref.score.to_numpy(), cur.score.to_numpy()).statistic
    pred = report.column("prediction")
    table = pd.crosstab(
        np.r_[["r"] * len(ref), ["c"] * len(cur)], np.r_[ref.prediction.to_numpy(), cur.prediction.to_numpy()]
    )
    assert pred.chi2_p_value == pytest.approx(
        stats.chi2_contingency(table.to_numpy(), correction=False).pvalue
    )
    assert "app" in report.column("channel").bins["categories"]


def test_drift_appears_only_when_the_inputs_shift(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = ws_and_frame
    reports = ws.drift_windows(MODEL, reference=("2026-01-05", "2026-02-01"), every="1w")
    drifted = [set(r.drifted_columns) for r in reports]
    assert drifted[0] == set()  # week 5 is like the reference
    assert {"amount", "channel"} <= drifted[1] and {"amount", "channel"} <= drifted[-1]
    assert not any({"prediction", "score", "pages"} & d for d in drifted)


def test_default_windows_are_the_first_28_days_then_weeks(
    ws_and_frame: tuple[Workspace, pd.DataFrame],
) -> None:
    ws, _ = ws_and_frame
    reports = ws.drift_windows(MODEL)
    assert reports[0].windows == {
        "reference": {"start": "2026-01-05T00:00:00+00:00", "end": "2026-02-02T00:00:00+00:00"},
        "current": {"start": "2026-02-02T00:00:00+00:00", "end": "2026-02-09T00:00:00+00:00"},
    }
    assert reports[-1].windows["current"]["end"] == "2026-03-02T00:00:00+00:00"  # type: ignore[index]


def test_latest_keeps_only_the_most_recent_windows(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = ws_and_frame
    every = ws.drift_windows(MODEL)
    latest = ws.drift_windows(MODEL, latest=2)
    assert [r.windows for r in latest] == [r.windows for r in every[-2:]]
    assert [r.drifted_share for r in latest] == [r.drifted_share for r in every[-2:]]
    assert len(ws.drift_windows(MODEL, latest=100)) == len(every)
    with pytest.raises(ValidationError, match="latest 0 asks for no window") as caught:
        ws.drift_windows(MODEL, latest=0)
    assert caught.value.details["field"] == "latest"


def test_features_version_and_forced_categories(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = ws_and_frame
    with pytest.raises(ValidationError, match="no predictions in the reference window"):
        ws.drift_windows(MODEL, reference=("2026-01-05", "2026-02-01"), version="1.1")  # 1.1 starts later
    (report,) = ws.drift_windows(
        MODEL, reference=("2026-01-05", "2026-02-01"), features=["pages"], categorical=["pages"], every="4w"
    )
    assert [(c.column, c.kind.value) for c in report.columns] == [
        ("pages", "categorical"),
        ("prediction", "categorical"),
        ("score", "numeric"),
    ]


def test_empty_current_windows_are_left_out(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = ws_and_frame
    assert (
        ws.drift_windows(MODEL, reference=("2026-01-05", "2026-02-01"), current=("2027-01-01", "2027-01-07"))
        == []
    )


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"reference": ("2025-01-01", "2025-01-28")},
            ValidationError,
            "no predictions in the reference window",
        ),
        ({"reference": ("2026-02-01", "2026-01-05")}, ValidationError, "ends .* before it starts"),
        ({"reference": ("2026-13-01", "2026-01-05")}, ValidationError, "is not a date"),
        ({"every": "weekly"}, ValidationError, "is not a duration"),
        ({"features": ["nope"]}, ValidationError, "'nope' does not appear"),
        ({"categorical": ["nope"]}, ValidationError, "'nope', which is not a feature"),
    ],
)
def test_bad_requests_name_the_option(
    ws_and_frame: tuple[Workspace, pd.DataFrame], options: dict, error: type, message: str
) -> None:
    ws, _ = ws_and_frame
    with pytest.raises(error, match=message):
        ws.drift_windows(MODEL, **options)


def test_an_unknown_model_is_not_found(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    with pytest.raises(NotFound, match="no predictions of model 'nope'"):
        ws_and_frame[0].drift_windows("nope")


def test_readers_of_another_use_case_may_not_see_the_model(
    ws_and_frame: tuple[Workspace, pd.DataFrame],
) -> None:
    other = Principal("rita", (Grant(Role.REVIEWER, "clinical-documentation"),))
    with pytest.raises(PermissionDenied, match="rita"):
        ws_and_frame[0].drift_windows(MODEL, who=other)
    allowed = Principal("bo", (Grant(Role.BUSINESS_OWNER, UC),))
    assert ws_and_frame[0].drift_windows(MODEL, every="4w", who=allowed)


def test_other_monitors_call_it_with_datetime_pairs(ws_and_frame: tuple[Workspace, pd.DataFrame]) -> None:
    ws, _ = ws_and_frame
    con = ws.warehouse_connection()
    reports = drift_over_windows(
        con,
        MODEL,
        reference=(START, START + timedelta(days=28)),
        current=[
            (START + timedelta(days=35), START + timedelta(days=42)),
            Window(START, START + timedelta(days=7)),
        ],
        policy=DriftPolicy(psi=0.5),
    )
    assert [r.windows["current"]["start"][:10] for r in reports] == ["2026-02-09", "2026-01-05"]  # type: ignore[index]
    assert {c.threshold for c in reports[0].columns} == {0.5}
    with pytest.raises(ValidationError, match="is empty"):
        drift_over_windows(con, MODEL, reference=(START, START), current=[])


def test_rolling_windows_and_durations() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = rolling_windows(start, start + timedelta(days=10), timedelta(days=4))
    assert [(w.start.day, w.end.day) for w in windows] == [(1, 5), (5, 9), (9, 11)]
    assert parse_every("2w") == timedelta(days=14) and parse_every(" 12h ") == timedelta(hours=12)
    for bad in ("0d", "7", "d7", "7 days"):
        with pytest.raises(ValidationError):
            parse_every(bad)
