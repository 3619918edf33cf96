"""Binomial statistics for experiment results: Wilson intervals and a two-proportion z-test."""
from __future__ import annotations

import math

from smartlib_server.domain.personalization import RateEstimate

Z95 = 1.959963984540054  # two-sided 95 %


def wilson(successes: int, trials: int, z: float = Z95) -> RateEstimate:
    """Observed rate with its Wilson score interval; stays inside [0, 1] even at 0 or n successes."""
    if trials <= 0:
        return RateEstimate(0.0, 0.0, 1.0)  # no data: every rate is plausible
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: no rounding residue
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return RateEstimate(p, low, high)


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test; 1.0 when there is nothing to compare."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0  # both arms all-success or all-failure: no evidence of a difference
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))
