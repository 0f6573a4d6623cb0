"""The firm's people: teams, roles, tenure, skill, pilot cohorts, switch-on and adoption dates.

People are one row per person in parallel numpy arrays (``Org``), so the work
generators can look up any attribute of thousands of tasks by index at once.
Skill mixes tenure and talent: it drives how much a claims adjuster gains from
the assistant (BLR: new and less-skilled workers gain most).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paceline.demo.firm.calendar import DAYS_PER_MONTH, Calendar
from paceline.demo.params import FirmParams

CLAIMS, CLINICAL, MAINTENANCE = "claims-triage", "clinical-documentation", "predictive-maintenance"
USE_CASES = (CLAIMS, CLINICAL, MAINTENANCE)
SUPPORT = -1  # use-case code of people who do no demo task work
SITES = ("northgate", "riverside", "st-anne", "lakeview", "hillcrest", "eastfield")
PLANTS = ("plant-north", "plant-south", "plant-east")
CLAIMS_CITIES = ("lyon", "lille", "nantes")
SPECIALTIES = ("family-medicine", "cardiology", "pediatrics", "orthopedics", "dermatology")
SUPPORT_TEAMS = (
    ("program-office", "program-manager"),
    ("data-platform", "data-engineer"),
    ("ml-platform", "ml-engineer"),
    ("it-security", "security-analyst"),
    ("people-ops", "hr-partner"),
    ("finance", "financial-analyst"),
    ("operations", "operations-manager"),
)
NAT = np.datetime64("NaT", "D")


@dataclass(frozen=True)
class Unit:
    """A team as it is built: its name, use case, size, place, cohort and group (site/plant)."""

    team: str
    use_case: int
    size: int
    location: str
    cohort: str
    group: int = 0
    negative_control: bool = False
    role: str = ""


@dataclass(frozen=True)
class Org:
    """Every person of the firm, as parallel arrays indexed by person number."""

    person_id: np.ndarray  # raw ids, "emp-0001"
    team: np.ndarray
    role: np.ndarray
    location: np.ndarray
    use_case: np.ndarray  # index into USE_CASES, SUPPORT for none
    cohort: np.ndarray  # "" when not assigned
    group: np.ndarray  # claims team / clinical site / plant number
    negative_control: np.ndarray
    specialty: np.ndarray
    hire: np.ndarray  # datetime64[D]
    eligible_from: np.ndarray  # datetime64[D], NaT when not assigned
    enabled_from: np.ndarray  # datetime64[D], NaT when never switched on
    adopt_at: np.ndarray  # datetime64[D], NaT when the person never adopts
    skill_z: np.ndarray
    skill_pct: np.ndarray

    @property
    def size(self) -> int:
        return int(self.person_id.size)

    def members(self, use_case: str) -> np.ndarray:
        """Person numbers working on *use_case*."""
        return np.flatnonzero(self.use_case == USE_CASES.index(use_case))


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, parts)
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _name(names: tuple[str, ...], i: int) -> str:
    return names[i] if i < len(names) else f"{names[i % len(names)]}-{i // len(names) + 1}"


def _units(params: FirmParams, rng: np.random.Generator) -> list[Unit]:
    """The firm's teams, sized from the head count and the unit shares."""
    n = params.workforce.employees
    c, k, m = params.claims, params.clinical, params.maintenance
    n_claims, n_clin, n_pm = (
        round(n * c.share_of_staff),
        round(n * k.share_of_staff),
        round(n * m.share_of_staff),
    )
    n_neg = max(2, round(n_claims * c.negative_control_share))
    units: list[Unit] = []
    for i, size in enumerate(_split(n_claims - n_neg, round((n_claims - n_neg) / c.team_size))):
        units.append(Unit(f"claims-team-{i + 1:02d}", 0, size, CLAIMS_CITIES[i % 3], "rct", i))
    units.append(Unit("claims-complex", 0, n_neg, CLAIMS_CITIES[0], "scale-up", -1, True, "senior-adjuster"))
    sites = min(k.sites, max(2, n_clin // 4))
    treated = set(rng.permutation(sites)[: max(1, min(k.treated_sites, sites - 1))].tolist())
    for i, size in enumerate(_split(n_clin, sites)):
        site = _name(SITES, i)
        units.append(Unit(f"clinic-{site}", 1, size, site, "pilot" if i in treated else "control", i))
    crews = max(1, round(n_pm / (m.plants * m.crew_size)))
    sizes = iter(_split(n_pm, m.plants * crews))
    for p in range(m.plants):
        plant = _name(PLANTS, p)
        for j in range(crews):
            name = f"maint-{plant.removeprefix('plant-')}-{chr(ord('a') + j)}"
            units.append(Unit(name, 2, next(sizes), plant, f"wave-{min(p, 2) + 1}", p))
    for (team, role), size in zip(
        SUPPORT_TEAMS, _split(n - n_claims - n_clin - n_pm, len(SUPPORT_TEAMS)), strict=True
    ):
        units.append(Unit(team, SUPPORT, size, "head-office", "", -1, False, role))
    return [u for u in units if u.size > 0]


def _roles(units: list[Unit], rng: np.random.Generator) -> np.ndarray:
    roles: list[str] = []
    for u in units:
        if u.role:
            roles += [u.role] * u.size
        elif u.use_case == 0:
            roles += ["team-lead"] + ["claims-adjuster"] * (u.size - 1)
        elif u.use_case == 1:
            roles += ["physician" if x < 0.6 else "nurse-practitioner" for x in rng.random(u.size)]
        else:
            roles += ["crew-lead"] + ["maintenance-technician"] * (u.size - 1)
    return np.array(roles, dtype=object)


def _hires(n: int, params: FirmParams, cal: Calendar, rng: np.random.Generator) -> np.ndarray:
    """Hire dates: some during the timeline, the rest with exponential tenure before it."""
    horizon = int((cal.end - cal.start).astype(np.int64))
    new = rng.random(n) < params.workforce.new_hire_share
    inside = rng.integers(0, max(1, horizon - 30), n)
    tenure = 30 + rng.exponential(params.workforce.tenure_mean_years * 365.25, n).astype(np.int64)
    offset = np.where(new, inside, -tenure)
    return cal.start + offset.astype("timedelta64[D]")


def _standard(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _skill(
    units: list[Unit], hire: np.ndarray, cal: Calendar, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """Skill (z-score and percentile within each unit kind): 0.8 tenure, 0.6 talent.

    Tenure dominates so that, as in BLR, the newest workers gain most from the assistant.
    """
    ref = cal.month_start(cal.timeline.pilot_start)
    tenure = np.maximum((ref - hire).astype(np.int64), 1).astype(float)
    talent = rng.standard_normal(hire.size)
    kind = np.concatenate([np.full(u.size, u.use_case * 2 + u.negative_control) for u in units])
    z, pct = np.zeros(hire.size), np.full(hire.size, 0.5)
    for k in np.unique(kind):
        idx = np.flatnonzero(kind == k)
        z[idx] = _standard(0.8 * _standard(np.log(tenure[idx])) + 0.6 * talent[idx])
        pct[idx] = (np.argsort(np.argsort(z[idx], kind="stable"), kind="stable") + 0.5) / idx.size
    return z, pct


def _cohorts(units: list[Unit], params: FirmParams, rng: np.random.Generator) -> np.ndarray:
    cohorts: list[str] = []
    for u in units:
        if u.cohort == "rct":
            treated = rng.random(u.size) < params.claims.pilot_share
            cohorts += ["pilot" if t else "control" for t in treated]
        else:
            cohorts += [u.cohort] * u.size
    return np.array(cohorts, dtype=object)


def _switch_on(cohort: np.ndarray, params: FirmParams, cal: Calendar) -> np.ndarray:
    """The month each cohort's AI is switched on (the design of each pilot)."""
    t = params.timeline
    months = {"pilot": t.pilot_start, "control": t.scale_up, "scale-up": t.scale_up}
    months |= {f"wave-{i + 1}": w for i, w in enumerate(t.waves)}
    return np.array([cal.month_start(months[c]) if c else NAT for c in cohort], dtype="datetime64[D]")


def build_org(params: FirmParams, cal: Calendar, rng: np.random.Generator) -> Org:
    """Everyone at the firm, with cohorts, switch-on dates and (hidden) adoption dates."""
    units = _units(params, rng)
    n = sum(u.size for u in units)
    hire = _hires(n, params, cal, rng)
    z, pct = _skill(units, hire, cal, rng)
    cohort = _cohorts(units, params, rng)
    use_case = np.concatenate([np.full(u.size, u.use_case) for u in units])
    assigned = use_case != SUPPORT
    start = cal.start
    eligible = np.where(assigned, np.maximum(hire, start), NAT)
    enabled = np.where(assigned, np.maximum(_switch_on(cohort, params, cal), hire), NAT)
    a = params.adoption
    adopter = rng.random(n) < a.ceiling
    delay = np.floor(rng.exponential(a.ramp_months * DAYS_PER_MONTH, n)).astype("timedelta64[D]")
    adopt_at = np.where(adopter & assigned, enabled + delay, NAT)
    numbers = rng.permutation(n) + 1
    width = max(4, len(str(n)))
    specialty = np.where(use_case == 1, np.array(SPECIALTIES, dtype=object)[rng.integers(0, 5, n)], "")

    def per_unit(attr: str) -> np.ndarray:
        return np.concatenate([np.full(u.size, getattr(u, attr), dtype=object) for u in units])

    return Org(
        person_id=np.array([f"emp-{i:0{width}d}" for i in numbers], dtype=object),
        team=per_unit("team"),
        role=_roles(units, rng),
        location=per_unit("location"),
        use_case=use_case,
        cohort=cohort,
        group=per_unit("group").astype(np.int64),
        negative_control=per_unit("negative_control").astype(bool),
        specialty=specialty.astype(object),
        hire=hire,
        eligible_from=eligible,
        enabled_from=enabled,
        adopt_at=adopt_at,
        skill_z=z,
        skill_pct=pct,
    )
