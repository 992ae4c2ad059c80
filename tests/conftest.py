"""Shared test set-up: hypothesis profiles and the ulp measure.

Profiles: ``dev`` (the default) and ``ci`` (derandomized, no example
database, more examples).  CI selects ``ci`` with HYPOTHESIS_PROFILE=ci.
"""

from __future__ import annotations

import os

import numpy as np
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
    """|computed - exact| in units of the last place of the float nearest to exact.

    ``exact`` is an mpmath number (or anything float() takes at full
    precision); the difference is taken at high precision, so this is the
    error of ``computed`` itself, not of a rounded reference.
    """
    import mpmath

    with mpmath.workdps(60):
        e = mpmath.mpf(exact)
        spacing = float(np.spacing(abs(float(e))))
        return float(abs(mpmath.mpf(float(computed)) - e) / mpmath.mpf(spacing))
