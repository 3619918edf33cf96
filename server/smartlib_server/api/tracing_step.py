"""A server span for every call, continuing the caller's W3C trace context: a pipeline step.

The span is current for the whole call, and deadlines.in_context copies it into the worker
thread that runs the service, so embedding, search, ranking, cache and SQL spans
(smartlib_core.tracing.span) become its children. The step also sets the call's request id
(the caller's `x-request-id`, or a new one) for the JSON logs.
"""
from __future__ import annotations

import contextlib
import os

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from smartlib_core.tracing import recording
from smartlib_server import logs
from smartlib_server.api.pipeline import Call, Step, on_end, split_method

REQUEST_ID_KEY = "x-request-id"
TRACEPARENT_KEY = "traceparent"  # W3C trace context


class TracingStep(Step):
    """Opens the SERVER span `<service>/<method>`; its status is the call's final gRPC code.

    Put it first in the pipeline, so the span covers every other step and sees the code that
    a denial or the error mapping chose.
    """

    def __init__(self) -> None:
        self._tracer = trace.get_tracer("smartlib_server")

    @contextlib.asynccontextmanager
    async def around(self, call: Call):
        metadata = dict(call.context.invocation_metadata() or ())
        rid = metadata.get(REQUEST_ID_KEY, "")[:128] or os.urandom(16).hex()
        if not recording() and TRACEPARENT_KEY not in metadata:
            # No provider and no caller's trace: the span would be a no-op with no trace id for
            # the logs, so only the request id is set. With a traceparent the (no-op) span below
            # still carries the caller's trace id into JSON log lines.
            token = logs.request_id.set(rid)
            try:
                yield
            finally:
                _reset_request_id(token)
            return
        service, method = split_method(call.method)
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method, "smartlib.request_id": rid}
        with self._tracer.start_as_current_span(
            f"{service}/{method}", context=propagate.extract(metadata), kind=SpanKind.SERVER,
            attributes=attributes, record_exception=False, set_status_on_exception=False,
        ) as span:
            def ended(code: grpc.StatusCode) -> None:
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code.value[0] != 0:
                    span.set_status(Status(StatusCode.ERROR, code.name))

            token = logs.request_id.set(rid)
            try:
                async with on_end(call, ended):
                    yield
            finally:
                _reset_request_id(token)


def _reset_request_id(token) -> None:
    # A response stream the client abandons is closed by the loop's async-generator finaliser,
    # in a task and Context of its own, where this token was never set (ValueError). The call's
    # own Context, which holds the value, ends with the call, so there is nothing to undo.
    try:
        logs.request_id.reset(token)
    except ValueError:
        pass
