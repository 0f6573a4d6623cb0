"""Who finishes their learning path when, and how that changes the assistant's effect.

Each assigned person finishes the use case's learning path with the use case's
``completion_share``, after an exponential delay from their AI switch-on (so trained and
not-yet-trained people work side by side with the tool, as in the three-arm trial). From that
day on, the assistant's effect on an inside-the-frontier person is ``1 + ai_effect_uplift``
times its untrained size (:class:`paceline.demo.params.Training`). The dates come from their
own random stream, so adding training left every other draw of the firm as it was.
"""

from __future__ import annotations

import numpy as np

from paceline.demo.firm.calendar import DAYS_PER_MONTH, Calendar
from paceline.demo.firm.org import NAT, SUPPORT, Org
from paceline.demo.params import Training


def completion_days(org: Org, cal: Calendar, t: Training, rng: np.random.Generator) -> np.ndarray:
    """The day each person finished the learning path (datetime64[D]; NaT: not within the timeline)."""
    n = org.size
    assigned = (org.use_case != SUPPORT) & ~np.isnat(org.enabled_from)
    share = np.asarray(t.completion_share)[np.maximum(org.use_case, 0)]
    finishes = assigned & (rng.random(n) < share)
    delay = np.floor(rng.exponential(t.completion_months * DAYS_PER_MONTH, n)).astype("timedelta64[D]")
    day = org.enabled_from + delay
    return np.where(finishes & (day < cal.end), day, NAT).astype("datetime64[D]")


def effect_scale(
    org: Org, persons: np.ndarray, cal: Calendar, t: Training, trained_at: np.ndarray | None
) -> np.ndarray:
    """Per person and working day: the factor on the assistant's effect (1, or 1 + uplift once trained).

    The negative-control team (outside the frontier) keeps a factor of 1.
    """
    scale = np.ones((persons.size, cal.n_days))
    if trained_at is None or t.ai_effect_uplift == 0:
        return scale
    after = cal.days[None, :] >= trained_at[persons, None]  # NaT compares False: never trained
    inside = ~org.negative_control[persons]
    return scale + t.ai_effect_uplift * (after & inside[:, None])
