"""Span export is off unless SMARTLIB_OTLP_ENDPOINT is set: with the variable empty nothing is
installed, and every span stays the API's no-op. The exporting case runs a real server against a
fake collector (tests/integration/test_otlp_export.py), since a tracer provider can be installed
once per process."""
from __future__ import annotations

from opentelemetry import trace

from smartlib_server import tracing
from smartlib_server.config import Settings


def test_no_endpoint_installs_nothing():
    assert Settings().otlp_endpoint == ""
    before = trace.get_tracer_provider()
    assert tracing.configure(Settings().otlp_endpoint) is None
    assert trace.get_tracer_provider() is before
    if isinstance(before, trace.ProxyTracerProvider):  # no other test installed one in this process
        with trace.get_tracer("smartlib").start_as_current_span("probe") as span:
            assert not span.is_recording()


def test_the_variable_sets_the_endpoint():
    assert Settings.from_env({"SMARTLIB_OTLP_ENDPOINT": "http://collector:4317"}).otlp_endpoint == "http://collector:4317"
