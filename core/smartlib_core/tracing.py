"""Child spans for the steps inside a request (embedding, search, ranking, cache, SQL).

The OpenTelemetry API is a no-op until a tracer provider is installed (the server installs one
only when SMARTLIB_OTLP_ENDPOINT is set), so a span here costs a few microseconds when tracing
is off. Spans nest under whatever span is current: the server's span for the call, carried into
worker threads with the call's context (deadlines.in_context copies it).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from opentelemetry import trace

F = TypeVar("F", bound=Callable[..., Any])
_tracer = trace.get_tracer("smartlib")  # a proxy: it follows the provider installed later


def span(name: str, **attributes: Any) -> AbstractContextManager[trace.Span]:
    """`with span("embed", texts=3):` times one step as a child of the current span."""
    return _tracer.start_as_current_span(name, attributes=attributes or None)


def traced(name: str) -> Callable[[F], F]:
    """Decorator form of `span`: every call of the function is one span named `name`."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _tracer.start_as_current_span(name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
