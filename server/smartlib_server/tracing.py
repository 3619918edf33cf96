"""OpenTelemetry export, off by default: SMARTLIB_OTLP_ENDPOINT turns it on.

With no endpoint nothing is installed and every span is the API's no-op. With one, spans go in
batches to an OTLP/gRPC collector (Jaeger, Tempo, the OpenTelemetry Collector) under the service
name `smartlib`. The W3C trace context of incoming calls is read by api/tracing_step.py.
"""
from __future__ import annotations

import logging

from opentelemetry import trace

log = logging.getLogger(__name__)


def configure(otlp_endpoint: str, service_name: str = "smartlib") -> trace.TracerProvider | None:
    """Installs a tracer provider exporting to `otlp_endpoint` ("http://collector:4317"); None when empty."""
    if not otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=otlp_endpoint.startswith("http://"))))
    trace.set_tracer_provider(provider)
    log.info("tracing: exporting spans to %s", otlp_endpoint)
    return provider
