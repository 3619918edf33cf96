"""RetryPolicy.delay: which failures are retried, full-jitter windows, the RetryInfo floor and the caps."""
from __future__ import annotations

import grpc
import pytest

from smartlib_client.errors import InvalidArgument, ResourceExhausted, Unavailable
from smartlib_client.retries import RetryPolicy


def _top(lo: float, hi: float) -> float:
    return hi  # the largest wait the jitter could draw


def _bottom(lo: float, hi: float) -> float:
    return lo


def test_full_jitter_windows_grow_and_stop_at_max_backoff():
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.1, max_backoff=1.0, multiplier=2.0, max_elapsed=100)
    tops = [policy.delay(Unavailable("down"), attempt, 0.0, uniform=_top) for attempt in range(1, 7)]
    assert tops == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert policy.delay(Unavailable("down"), 3, 0.0, uniform=_bottom) == 0.0  # full jitter starts at 0
    draws = [policy.delay(Unavailable("down"), 2, 0.0) for _ in range(200)]
    assert all(0.0 <= d <= 0.2 for d in draws) and len(set(draws)) > 100  # really random


def test_retry_info_is_a_floor_even_above_max_backoff():
    policy = RetryPolicy(max_backoff=0.5, max_elapsed=30)
    assert policy.delay(ResourceExhausted("busy", retry_after=2.0), 1, 0.0, uniform=_top) == 2.0
    assert policy.delay(ResourceExhausted("busy", retry_after=0.01), 1, 0.0, uniform=_top) == pytest.approx(0.1)


def test_only_unavailable_and_resource_exhausted_are_retried():
    policy = RetryPolicy()
    assert policy.delay(InvalidArgument("bad"), 1, 0.0) is None
    deadline = InvalidArgument("slow")
    deadline.code = grpc.StatusCode.DEADLINE_EXCEEDED
    assert policy.delay(deadline, 1, 0.0) is None


def test_attempts_and_total_time_are_capped():
    policy = RetryPolicy(max_attempts=3, max_elapsed=1.0)
    assert policy.delay(Unavailable("down"), 2, 0.0) is not None
    assert policy.delay(Unavailable("down"), 3, 0.0) is None  # three attempts made: no fourth
    assert policy.delay(Unavailable("down", retry_after=0.6), 1, 0.5) is None  # the wait would end at 1.1 s
    assert policy.delay(Unavailable("down", retry_after=0.4), 1, 0.5) == pytest.approx(0.4, abs=0.1)
    assert RetryPolicy(max_attempts=1).delay(Unavailable("down"), 1, 0.0) is None


@pytest.mark.parametrize("bad", [dict(max_attempts=0), dict(initial_backoff=0), dict(initial_backoff=2, max_backoff=1),
                                 dict(multiplier=0.5), dict(max_elapsed=-1)])
def test_nonsense_policies_are_refused(bad):
    with pytest.raises(ValueError):
        RetryPolicy(**bad)
