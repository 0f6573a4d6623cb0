"""The demo firm's enablement: training days shared with the generator, deterministic xAPI history,
the records in a workspace, and the calibrated training effect."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from paceline.bootstrap import Workspace
from paceline.demo.enablement import (
    SHOWN_LEARNER,
    calibrated_truth,
    catalogue,
    firm_learners,
    record_enablement,
    statements,
)
from paceline.demo.firm import generate_firm, generate_workload
from paceline.demo.firm.calendar import build_calendar
from paceline.demo.firm.org import build_org
from paceline.demo.firm.rng import stream
from paceline.demo.firm.training import completion_days, effect_scale
from paceline.demo.params import FirmParams
from paceline.demo.run import write_tables
from paceline.services.access import operator

SEED = 7


@pytest.fixture(scope="module")
def params() -> FirmParams:
    return FirmParams.sized(people=80, months=6)


def test_the_generator_and_the_records_share_the_training_days(params: FirmParams) -> None:
    work = generate_workload(params, SEED)
    people, _ = firm_learners(params, SEED)
    assert work.trained_at is not None
    index = {str(p): i for i, p in enumerate(work.org.person_id)}
    for p in people:
        day = work.trained_at[index[p.raw_id]]
        assert (p.trained is None) == bool(np.isnat(day))
        if p.trained is not None:
            assert str(day) == p.trained.isoformat() and p.trained >= p.enabled


def test_training_scales_the_effect_after_completion_inside_the_frontier(params: FirmParams) -> None:
    cal = build_calendar(params.timeline)
    org = build_org(params, cal, stream(SEED, "org"))
    trained = completion_days(org, cal, params.training, stream(SEED, "training"))
    persons = org.members("claims-triage")
    scale = effect_scale(org, persons, cal, params.training, trained)
    uplift = params.training.ai_effect_uplift
    for row, person in enumerate(persons):
        after = cal.days >= trained[person] if not np.isnat(trained[person]) else np.zeros(cal.n_days, bool)
        expected = 1 + uplift * after * (not org.negative_control[person])
        assert np.allclose(scale[row], expected)
    assert np.all(
        effect_scale(org, persons, cal, replace(params.training, ai_effect_uplift=0.0), trained) == 1
    )


def test_the_history_is_deterministic_and_ends_with_the_timeline(params: FirmParams) -> None:
    first, people, cal = statements(params, SEED)
    again, _, _ = statements(params, SEED)
    assert [s["id"] for s in first] == [s["id"] for s in again]
    assert len({s["id"] for s in first}) == len(first)
    assert max(s["timestamp"][:10] for s in first) < str(cal.end)
    passed = {s["actor"]["account"]["name"] for s in first if s["verb"]["id"].endswith("/passed")}
    assert passed == {
        p.raw_id for p in people if p.trained is not None and p.trained < cal.end.astype(object)
    }


def test_the_calibrated_truth_follows_the_uplift() -> None:
    params = FirmParams.sized(people=200, months=9)
    truth = calibrated_truth(params, SEED)
    assert truth["estimate"] > 0 and 0 < truth["relative"] < params.training.ai_effect_uplift
    none = calibrated_truth(replace(params, training=replace(params.training, ai_effect_uplift=0.0)), SEED)
    assert none["estimate"] == 0.0


@pytest.fixture(scope="module")
def ws(params: FirmParams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = tmp_path_factory.mktemp("demo-enablement") / "ws"
    workspace = Workspace.init(home)
    for name, path in write_tables(generate_firm(params, SEED), home / "demo-data").items():
        workspace.ingest(name, path)
    yield workspace
    workspace.close()


def test_record_enablement_is_idempotent_and_proves_the_deliverables(
    ws: Workspace, params: FirmParams
) -> None:
    done = record_enablement(ws, params, SEED)
    assert (
        done["statements"] > 0 and done["champions"] > 0 and done["goals"] > 0 and done["sessions_held"] > 0
    )
    with ws.enablement(operator()) as en:
        assert en.import_xapi(operator(), statements(params, SEED)[0], "demo-lms").loaded == 0
        doc = en.catalogue_doc(operator())
        assert en.proven_deliverables("claims-triage") == {
            "curriculum": True,
            "competency_matrix": True,
            "incentives": True,
            "champions_network": True,
        }
        assert en.repo.learner_of(SHOWN_LEARNER) is not None
    assert len(doc["curricula"]) == len(catalogue()["curricula"]) == 5
