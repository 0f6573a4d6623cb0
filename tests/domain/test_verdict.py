"""The verdict rules: every criterion gives a reason; the verdict follows from them."""

from __future__ import annotations

from paceline.domain.verdict import (
    Estimate,
    Verdict,
    decide,
    judge_acceptance,
    judge_guardrail,
    judge_primary,
)

PASS = {"name": "sample_ratio", "status": "pass", "detail": "split as planned"}


def prim(kpi: str, rel: float, lo: float, hi: float) -> Estimate:
    return Estimate(kpi, "primary", rel, (lo, hi), 0.01, 10)


def guard(kpi: str, rel: float, lo: float, hi: float, margin: float = 5) -> Estimate:
    return Estimate(kpi, "guardrail", rel, (lo, hi), 0.3, margin)


def test_primary_improvement_in_the_kpis_direction() -> None:
    assert judge_primary(prim("productivity", 12, 6, 18)).met is True
    assert judge_primary(prim("error_rate", -25, -35, -15)).met is True  # fewer errors is better
    assert judge_primary(prim("error_rate", 25, 15, 35)).met is False
    assert judge_primary(prim("productivity", 3, -2, 8)).met is None
    assert "not yet conclusive" in judge_primary(prim("productivity", 3, -2, 8)).text


def test_guardrails_are_non_inferiority_tests() -> None:
    assert judge_guardrail(guard("error_rate", 1, -2, 4)).met is True  # at most 4% worse, margin 5%
    assert judge_guardrail(guard("error_rate", 4, -1, 9)).met is None
    assert judge_guardrail(guard("error_rate", 12, 7, 17)).met is False
    assert judge_guardrail(guard("productivity", -1, -3, 1)).met is True


def test_verdicts() -> None:
    ok_accept = [judge_acceptance("esat", 3.5, 3.9)]
    adopt = decide([prim("productivity", 12, 6, 18), guard("error_rate", 1, -2, 4)], ok_accept, [PASS])
    assert adopt.verdict is Verdict.ADOPT and all(r.met for r in adopt.reasons)
    unsure = decide([prim("productivity", 3, -2, 8)], ok_accept, [PASS])
    assert unsure.verdict is Verdict.EXTEND
    low_esat = decide([prim("productivity", 12, 6, 18)], [judge_acceptance("esat", 3.5, 3.1)], [PASS])
    assert low_esat.verdict is Verdict.EXTEND
    breach = decide([prim("productivity", 12, 6, 18), guard("error_rate", 12, 7, 17)], ok_accept, [PASS])
    assert breach.verdict is Verdict.STOP
    pretrend = decide(
        [prim("productivity", 12, 6, 18)],
        ok_accept,
        [{"name": "pre_trends", "status": "fail", "detail": "leads differ"}],
    )
    assert pretrend.verdict is Verdict.EXTEND
    assert decide([], [], []).verdict is Verdict.EXTEND
    assert adopt.to_dict()["verdict"] == "adopt" and len(adopt.to_dict()["reasons"]) == 4


def test_interim_looks_use_the_boundary_not_the_interval() -> None:
    from dataclasses import replace

    early = replace(prim("productivity", 12, 6, 18), z=2.5, boundary=3.48)
    assert judge_primary(early).met is None and "continue to the next look" in judge_primary(early).text
    crossed = replace(early, z=3.9)
    assert judge_primary(crossed).met is True
    harmful = replace(prim("error_rate", 30, 20, 40), z=4.0, boundary=3.48)  # errors up: worse
    assert judge_primary(harmful).met is False
