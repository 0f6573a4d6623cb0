"""Pure statistics: numpy and scipy only, no I/O (the ``pure-core`` import contract).

Pilot evaluation works from sufficient statistics that an engine computes
(DESIGN.md principle 5): :mod:`~paceline.analytics.moments` holds them,
:mod:`~paceline.analytics.twosample` compares two arms, :mod:`~paceline.analytics.ols`,
:mod:`~paceline.analytics.robust` and :mod:`~paceline.analytics.bootstrap` fit regressions on
cells with robust and small-cluster inference, :mod:`~paceline.analytics.pilot` chooses the
method for a pilot, :mod:`~paceline.analytics.sequential` and
:mod:`~paceline.analytics.decisions` are the building blocks of a verdict, and
:mod:`~paceline.analytics.simulation` simulates pilots. See docs/pilots.md.
"""
