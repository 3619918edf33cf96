"""A client span per call, and the W3C trace context sent with it, when OpenTelemetry is installed.

The server continues the trace, so a notebook or backend that traces its own work sees each
Smart Library call, and the server's embedding, search and SQL spans, inside it. Without the
OpenTelemetry API installed, or with no tracer provider set up, nothing is sent.
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

try:
    from opentelemetry import propagate, trace
except ImportError:  # an optional dependency of the client
    trace = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True)
class TracedCall:
    metadata: tuple[tuple[str, str], ...]  # traceparent (and tracestate) for the call's metadata
    failed: Callable[[str], None]  # marks the span as an error with the gRPC status name


@contextlib.contextmanager
def client_span(service: str, method: str) -> Iterator[TracedCall]:
    """Opens the CLIENT span `<service>/<method>` around one call."""
    if trace is None:
        yield TracedCall((), lambda _code: None)
        return
    tracer = trace.get_tracer("smartlib_client")
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
    with tracer.start_as_current_span(f"{service}/{method}", kind=trace.SpanKind.CLIENT, attributes=attributes) as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield TracedCall(tuple(carrier.items()), lambda code: span.set_status(trace.Status(trace.StatusCode.ERROR, code)))
