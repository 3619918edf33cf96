"""A small thread-safe circuit breaker for calls to a remote dependency (TorchServe, Redis, ...).

closed     calls pass; `failure_threshold` consecutive failures open the circuit.
open       calls are refused without touching the dependency until `reset_timeout_s` has passed.
half-open  one trial call is let through; its success closes the circuit, its failure re-opens it.

The breaker never calls the dependency itself: callers ask `allow()`, then report the outcome
with `record_success()` or `record_failure()`, or use `call()` which does all three.
"""
from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """Raised by `CircuitBreaker.call` when the circuit refuses the call."""

    def __init__(self, name: str, retry_after: float):
        super().__init__(f"circuit {name!r} is open; retry in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


class CircuitBreaker:
    """Counts consecutive failures and stops calling a dependency that keeps failing.

    Args:
        name: shown in errors and logs.
        failure_threshold: consecutive failures that open the circuit.
        reset_timeout_s: how long the circuit stays open before one trial call is allowed.
        clock: monotonic time source; tests pass a fake one.
        on_state_change: called as (old, new) after each transition, outside the lock.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout_s <= 0:
            raise ValueError("reset_timeout_s must be positive")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._on_state_change = on_state_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._trial_started = 0.0

    @property
    def state(self) -> BreakerState:
        """The current state; an open circuit whose timeout has passed reports HALF_OPEN."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
                return BreakerState.HALF_OPEN
            return self._state

    def retry_after(self) -> float:
        """Seconds until an open circuit lets a trial call through (0 when not open)."""
        with self._lock:
            if self._state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """True when the caller may call the dependency now; it must then report the outcome."""
        transition = None
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if self._clock() - self._opened_at < self.reset_timeout_s:
                    return False
                transition = self._set(BreakerState.HALF_OPEN)
            # half-open: one trial at a time, so a struggling dependency gets one call; a trial
            # whose outcome was never reported expires after reset_timeout_s instead of wedging us
            now = self._clock()
            allowed = not self._trial_in_flight or now - self._trial_started >= self.reset_timeout_s
            if allowed:
                self._trial_in_flight = True
                self._trial_started = now
        self._notify(transition)
        return allowed

    def record_success(self) -> None:
        transition = None
        with self._lock:
            self._failures = 0
            self._trial_in_flight = False
            if self._state is not BreakerState.CLOSED:
                transition = self._set(BreakerState.CLOSED)
        self._notify(transition)

    def record_failure(self) -> None:
        transition = None
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
            ):
                self._opened_at = self._clock()
                transition = self._set(BreakerState.OPEN)
            elif self._state is BreakerState.OPEN:
                # a late failure from a call started before opening pushes the trial back
                self._opened_at = self._clock()
        self._notify(transition)

    def call(self, fn: Callable[[], T], is_failure: Callable[[BaseException], bool] = lambda exc: True) -> T:
        """Runs fn() if allowed and records the outcome.

        Args:
            fn: the call to the dependency.
            is_failure: which exceptions count against the dependency; others pass through
                and count as a success (the dependency answered, the request was bad).

        Raises:
            CircuitOpen: the circuit refused the call.
        """
        if not self.allow():
            raise CircuitOpen(self.name, self.retry_after())
        try:
            result = fn()
        except BaseException as exc:
            if is_failure(exc):
                self.record_failure()
            else:
                self.record_success()
            raise
        self.record_success()
        return result

    def _set(self, new: BreakerState) -> tuple[BreakerState, BreakerState] | None:
        old, self._state = self._state, new
        return (old, new) if old is not new else None

    def _notify(self, transition: tuple[BreakerState, BreakerState] | None) -> None:
        if transition and self._on_state_change is not None:
            self._on_state_change(*transition)
