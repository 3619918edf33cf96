"""SMARTLIB_OTLP_ENDPOINT through a real `smartlib serve`: the server exports its spans to an
OTLP/gRPC collector (a fake one in this process), continuing the caller's W3C trace; without the
variable nothing is installed (tests/unit/test_tracing_export.py). test_tracing.py checks the
spans themselves with the SDK's in-memory exporter; this checks that they leave the process."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from smartlib.v1 import catalog_service_pb2 as cs, catalog_service_pb2_grpc
from smartlib_bench.process_bench import stop_server
from smartlib_client import SmartLibrary

from .test_server_process import _free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every exported span as (resource attributes, span)."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict, object]] = []
        self.lock = threading.Lock()

    def Export(self, request, context):  # noqa: N802 - the generated servicer's name
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.spans.extend((resource, span) for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def collector():
    servicer = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"http://127.0.0.1:{port}"
    server.stop(None)


def test_the_endpoint_variable_exports_the_calls_spans_with_the_callers_trace(collector, tmp_path, starter_sqlite, seed_compiled):
    servicer, endpoint = collector
    home = seed_compiled(tmp_path / "home")
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
    env.update(SMARTLIB_HOME=str(home), SMARTLIB_GRPC_PORT=str(port), SMARTLIB_METRICS_PORT="0", HF_HUB_OFFLINE="1",
               SMARTLIB_OTLP_ENDPOINT=endpoint)
    with open(tmp_path / "server.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "smartlib_server", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            with SmartLibrary(f"127.0.0.1:{port}") as lib:
                lib.wait_until_ready(timeout=300)  # RecommendService: the embedder loaded, so shutdown waits for nothing
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
                traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
                found = stub.SearchBooks(cs.SearchBooksRequest(query="the hobbit", limit=1), timeout=30,
                                         metadata=[("traceparent", traceparent), ("x-request-id", "otlp-test-1")])
                assert "Hobbit" in found.books[0].title
        finally:
            proc.terminate()  # SIGTERM: the provider's shutdown flushes the batched spans
            try:
                proc.wait(timeout=120)  # generous: this host may be loaded
            except subprocess.TimeoutExpired:
                stop_server(proc)
    assert proc.returncode == 0, (tmp_path / "server.log").read_text()[-3000:]

    with servicer.lock:
        exported = list(servicer.spans)
    ours = [(resource, span) for resource, span in exported if span.trace_id.hex() == TRACE_ID]
    served = [span for _, span in ours if span.name == "smartlib.v1.CatalogService/SearchBooks"]
    assert len(served) == 1, sorted({span.name for _, span in exported})
    assert served[0].parent_span_id.hex() == PARENT_SPAN_ID  # the caller's span is its parent
    attributes = {kv.key: kv.value.string_value for kv in served[0].attributes}
    assert attributes["smartlib.request_id"] == "otlp-test-1"
    assert all(resource.get("service.name") == "smartlib" for resource, _ in ours)
    assert f"exporting spans to {endpoint}" in (tmp_path / "server.log").read_text()
