"""Child spans for the steps inside a request (embedding, search, ranking, cache, SQL).

The OpenTelemetry API is a no-op until a tracer provider is installed (the server installs one
only when SMARTLIB_OTLP_ENDPOINT is set). Even a no-op span costs a context manager, a span object
and two context switches, so `traced` steps, which run on every call, make none until then.
Spans nest under whatever span is current: the server's span for the call, carried into worker
threads with the call's context (deadlines.in_context copies it).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from opentelemetry import trace

F = TypeVar("F", bound=Callable[..., Any])
_tracer = trace.get_tracer("smartlib")  # a proxy: it follows the provider installed later


_installed = False  # a provider, once installed, stays for the process


def recording() -> bool:
    """Whether a tracer provider is installed. Until one is, every span is the API's no-op, and
    the per-call steps skip making one (a no-op span still builds a context manager, a span
    object and two context switches)."""
    global _installed
    if not _installed:
        _installed = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    return _installed


def span(name: str, **attributes: Any) -> AbstractContextManager[trace.Span]:
    """`with span("embed", texts=3):` times one step as a child of the current span."""
    return _tracer.start_as_current_span(name, attributes=attributes or None)


def traced(name: str) -> Callable[[F], F]:
    """Decorator form of `span`: every call of the function is one span named `name` (none while
    no provider is installed: see `recording`)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _installed and not recording():
                return fn(*args, **kwargs)
            with _tracer.start_as_current_span(name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
