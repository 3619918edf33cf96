"""The current call's deadline, readable anywhere below the servicer without passing it around.

The admission interceptor records each call's deadline in a contextvar. Adapters (Redis,
TorchServe, the database) read `remaining()` or `cap(default)` to size their own timeouts, so
no downstream wait outlives the caller. Outside a call (CLI jobs, tests) there is no deadline.

Contextvars do not follow `loop.run_in_executor` into worker threads by themselves: the
servicer must run blocking work through `contextvars.copy_context().run` (see `in_context`).
"""
from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from smartlib_core.errors import Code, SmartLibError

T = TypeVar("T")

# Absolute deadline on the time.monotonic() clock; None means the caller set no deadline.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("smartlib_deadline", default=None)


class DeadlineExceeded(SmartLibError):
    """The caller's deadline passed before the work could start or finish."""

    code = Code.DEADLINE_EXCEEDED


@contextmanager
def bound(seconds: float | None) -> Iterator[None]:
    """Sets the deadline to `seconds` from now for the enclosed block (None: no deadline)."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        try:
            _deadline.reset(token)
        except ValueError:
            # Closed from another context: asyncio finalises an abandoned stream's generator in
            # a task of its own, whose context holds nothing of this call to restore.
            pass


def remaining() -> float | None:
    """Seconds left before the current call's deadline (may be <= 0), or None without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def cap(timeout: float, floor: float = 0.001) -> float:
    """`timeout` shortened to the time the caller has left, never below `floor`.

    The floor keeps client libraries from treating 0 as "wait forever"; `check()` first when an
    already expired call must not even try.
    """
    left = remaining()
    return timeout if left is None else max(min(timeout, left), floor)


def check(what: str = "the request") -> None:
    """Raises DeadlineExceeded when the caller's deadline has already passed."""
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded(f"deadline exceeded before {what} could run; retry with a longer deadline")


def in_context(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """`fn(*args)` for an executor thread, in a copy of the current context (so `remaining()`
    works there) and refused with DeadlineExceeded if the call expired while queued for a worker.

    Use as `loop.run_in_executor(executor, deadlines.in_context(fn, *args))`.
    """

    def run() -> T:
        check()
        return fn(*args)

    return functools.partial(contextvars.copy_context().run, run)
