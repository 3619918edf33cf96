"""The tracing step when no tracer provider is installed: the request id is still set for the
logs, no span is made unless the caller sent a trace context (whose trace id the JSON log lines
then carry), and `traced` steps run without one."""
from __future__ import annotations

import asyncio
import contextvars

import pytest

from smartlib_core import tracing
from smartlib_server import logs
from smartlib_server.api import tracing_step
from smartlib_server.api.pipeline import CallPipeline
from smartlib_server.api.tracing_step import TracingStep

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


class _Context:
    def __init__(self, metadata):
        self._metadata = metadata

    def invocation_metadata(self):
        return self._metadata

    def code(self):
        return None


class _CountingTracer:
    """Stands in for the step's tracer: counts the spans asked for, makes the API's no-op ones."""

    def __init__(self, real):
        self.real = real
        self.started = 0

    def start_as_current_span(self, *args, **kwargs):
        self.started += 1
        return self.real.start_as_current_span(*args, **kwargs)


def _run(step: TracingStep, metadata) -> tuple[str, str | None]:
    """One unary call through the step; the request id and the trace id the call's logs see."""
    seen = {}

    async def behaviour(request, context):
        seen["request_id"] = logs.request_id.get()
        span_context = tracing_step.trace.get_current_span().get_span_context()
        seen["trace_id"] = format(span_context.trace_id, "032x") if span_context.is_valid else None
        return b""

    wrapped = CallPipeline([step])._wrap("/smartlib.v1.CatalogService/GetBook", "unary_unary", behaviour)
    asyncio.run(wrapped(b"", _Context(metadata)))
    return seen["request_id"], seen["trace_id"]


@pytest.fixture
def step(monkeypatch):
    monkeypatch.setattr(tracing_step, "recording", lambda: False)  # whatever another test installed
    step = TracingStep()
    step._tracer = _CountingTracer(step._tracer)
    return step


def test_without_a_provider_a_call_gets_its_request_id_and_no_span(step):
    request_id, trace_id = _run(step, (("x-request-id", "req-7"),))
    assert request_id == "req-7" and trace_id is None
    made, _ = _run(step, ())
    assert len(made) == 32 and made != "req-7"
    assert step._tracer.started == 0
    assert logs.request_id.get() == ""  # reset once the call ended


def test_without_a_provider_a_callers_trace_id_still_reaches_the_logs(step):
    traceparent = f"00-{TRACE_ID}-b7ad6b7169203331-01"
    request_id, trace_id = _run(step, (("traceparent", traceparent), ("x-request-id", "req-8")))
    assert (request_id, trace_id) == ("req-8", TRACE_ID)
    assert step._tracer.started == 1


def test_traced_steps_make_no_span_without_a_provider(monkeypatch):
    monkeypatch.setattr(tracing, "_installed", False)
    monkeypatch.setattr(tracing, "recording", lambda: False)
    monkeypatch.setattr(tracing, "_tracer", None)  # any span would fail on it

    @tracing.traced("cache")
    def step(x):
        return x + 1

    assert step(1) == 2


def test_recording_follows_the_installed_provider(monkeypatch):
    monkeypatch.setattr(tracing, "_installed", False)
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: tracing.trace.ProxyTracerProvider())
    assert not tracing.recording()
    monkeypatch.setattr(tracing.trace, "get_tracer_provider", lambda: tracing.trace.NoOpTracerProvider())
    assert tracing.recording()


def test_a_stream_closed_from_another_context_ends_without_an_error(step):
    """grpc.aio closes an abandoned response stream through the loop's async-generator
    finaliser, which runs the step's exit in a Context other than the call's."""
    from smartlib_server.api.pipeline import Call

    async def main():
        around = step.around(Call("/smartlib.v1.ChatService/Converse", "stream_stream", _Context(())))
        await around.__aenter__()
        elsewhere = asyncio.create_task(around.__aexit__(None, None, None), context=contextvars.Context())
        await elsewhere  # raised ValueError ("created in a different Context") before

    asyncio.run(main())
