"""When the client tries an idempotent call again: RetryInfo first, else capped full-jitter backoff.

The gRPC channel's own retryPolicy cannot do this: it reads only `grpc-retry-pushback-ms`, never
the google.rpc.RetryInfo detail the server puts on RESOURCE_EXHAUSTED and UNAVAILABLE, and it
does not retry RESOURCE_EXHAUSTED at all. Admission control sheds load with exactly that status
and hint, and with round_robin the next attempt may land on a replica with room.
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import grpc

from smartlib_client.errors import SmartLibError

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Retries of idempotent calls (reads). Writes, chat, RecommendForUser (it logs an exposure)
    and ForgetUser are never retried.

    Attributes:
        max_attempts: attempts in all, the first one included; 1 turns retries off.
        initial_backoff: seconds; the n-th retry waits a uniformly random time in
            [0, min(max_backoff, initial_backoff * multiplier ** (n - 1))] ("full jitter").
        max_backoff: the largest backoff window, in seconds.
        multiplier: growth of the window per attempt.
        max_elapsed: seconds from the first attempt after which no retry starts; a wait that would
            end past it is not taken, and the last error is raised instead.
        codes: the status codes that are retried.

    A RetryInfo delay from the server is a floor: the wait is never shorter than it, even above
    `max_backoff`, as long as it ends within `max_elapsed`.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    max_elapsed: float = 30.0
    codes: frozenset[grpc.StatusCode] = RETRYABLE

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.initial_backoff <= self.max_backoff or self.multiplier < 1 or self.max_elapsed < 0:
            raise ValueError("need 0 < initial_backoff <= max_backoff, multiplier >= 1 and max_elapsed >= 0")

    def delay(self, error: SmartLibError, attempt: int, elapsed: float,
              uniform: Callable[[float, float], float] = random.uniform) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up and raise `error`.

        Args:
            error: what attempt number `attempt` (1 for the first) failed with.
            attempt: attempts made so far.
            elapsed: seconds since the first attempt started.
            uniform: the random source, for tests.
        """
        if error.code not in self.codes or attempt >= self.max_attempts:
            return None
        window = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        wait = uniform(0.0, window)
        if error.retry_after is not None:
            wait = max(wait, error.retry_after)
        if elapsed + wait > self.max_elapsed:
            return None
        return wait
