import threading

import pytest

from smartlib_server.adapters.circuit_breaker import BreakerState, CircuitBreaker, CircuitOpen


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def transitions():
    return []


@pytest.fixture
def breaker(clock, transitions):
    return CircuitBreaker(
        "dep", failure_threshold=3, reset_timeout_s=10.0, clock=clock,
        on_state_change=lambda old, new: transitions.append((old, new)),
    )


def boom():
    raise ConnectionError("down")


def test_opens_after_threshold_consecutive_failures(breaker):
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_success_resets_the_failure_count(breaker):
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_lets_exactly_one_trial_through(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    assert breaker.retry_after() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow(), "a second caller must wait for the trial's outcome"


def test_trial_success_closes_and_failure_reopens(breaker, clock, transitions):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(), "a failed trial restarts the reset timeout"
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert transitions == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_unreported_trial_expires(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()  # the trial caller never reports back
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_call_records_outcomes_and_refuses_when_open(breaker):
    assert breaker.call(lambda: 42) == 42
    for _ in range(3):
        with pytest.raises(ConnectionError):
            breaker.call(boom)
    with pytest.raises(CircuitOpen) as info:
        breaker.call(lambda: 42)
    assert info.value.retry_after == pytest.approx(10.0)


def test_call_ignores_exceptions_that_are_not_dependency_failures(breaker):
    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(lambda: int("x"), is_failure=lambda exc: not isinstance(exc, ValueError))
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"reset_timeout_s": 0}])
def test_rejects_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        CircuitBreaker("x", **kwargs)


def test_concurrent_failures_open_once(clock, transitions):
    breaker = CircuitBreaker(
        "dep", failure_threshold=50, reset_timeout_s=10.0, clock=clock,
        on_state_change=lambda old, new: transitions.append((old, new)),
    )
    start = threading.Barrier(8)

    def hammer():
        start.wait()
        for _ in range(100):
            breaker.record_failure()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert breaker.state is BreakerState.OPEN
    assert transitions == [(BreakerState.CLOSED, BreakerState.OPEN)]


def test_concurrent_half_open_admits_one_trial(breaker, clock):
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    start = threading.Barrier(16)
    admitted = []

    def probe():
        start.wait()
        admitted.append(breaker.allow())

    threads = [threading.Thread(target=probe) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 1
