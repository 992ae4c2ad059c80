"""Shared test set-up: hypothesis profiles and the ulp measure.

Profiles: ``dev`` (the default) and ``ci`` (derandomized, no example
database, more examples).  CI selects ``ci`` with HYPOTHESIS_PROFILE=ci.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def ulp_error(computed: float, exact: object) -> float:
    """|computed - exact| in units of the last place of the float nearest to exact
    (:func:`derivations.accuracy.ulps`, the measure the book's figures use)."""
    from derivations.accuracy import ulps

    return ulps(float(computed), exact)


def worst_ulp_over(got: object, exact_at: object, grid: object) -> float:
    """The largest ulp error of ``got`` (values at ``grid``) against ``exact_at(x)``,
    over the points where the exact value is a normal float64 (the bars' domain)."""
    from derivations.accuracy import worst_ulps

    exact = [exact_at(float(x)) for x in grid]  # type: ignore[attr-defined, operator]
    return worst_ulps(got, exact)
