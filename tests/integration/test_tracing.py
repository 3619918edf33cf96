"""OpenTelemetry through a real server: the client's trace reaches the server, and one call's
server span holds the embedding, search, ranking, cache and SQL steps as children.

The SDK's in-memory exporter stands in for a collector. A tracer provider can be installed
once per process, so this module installs it and shuts it down at the end (later spans are
then dropped, not collected)."""
from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from smartlib_client import NotFound, SmartLibrary
from smartlib_client.aio import AsyncSmartLibrary

SIMILAR = "smartlib.v1.RecommendService/SimilarBooks"


class _EndSignal(SpanProcessor):
    """Wakes a waiting test whenever a span ends (after the exporter, added before it, has it)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()

    def on_end(self, span) -> None:
        with self.condition:
            self.condition.notify_all()


@pytest.fixture(scope="module")
def exporter():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    signal = _EndSignal()
    provider.add_span_processor(signal)
    exporter.ended = signal.condition
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        pytest.fail("another test installed a global tracer provider first; this module must own it")
    yield exporter
    provider.shutdown()


@pytest.fixture
def spans(exporter):
    exporter.clear()
    return exporter


def _descendants(finished, root):
    by_parent: dict[int, list] = {}
    for span in finished:
        if span.parent is not None:
            by_parent.setdefault(span.parent.span_id, []).append(span)
    found, todo = [], [root.context.span_id]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child.context.span_id)
    return found


def test_similar_books_continues_the_client_trace_and_has_step_children(server, spans):
    with SmartLibrary(server.address, timeout=30) as client:
        book_id = client.list_books(page_size=1).iloc[0]["id"]
        with trace.get_tracer("notebook").start_as_current_span("notebook cell") as outer:
            client.similar(book_id, k=5)
    finished = spans.get_finished_spans()
    server_spans = [s for s in finished if s.name == SIMILAR and s.kind is SpanKind.SERVER]
    client_spans = [s for s in finished if s.name == SIMILAR and s.kind is SpanKind.CLIENT]
    assert len(server_spans) == 1 and len(client_spans) == 1
    served, sent = server_spans[0], client_spans[0]
    assert served.context.trace_id == outer.get_span_context().trace_id  # W3C trace context arrived
    assert served.parent.span_id == sent.context.span_id
    assert sent.parent.span_id == outer.get_span_context().span_id
    assert served.attributes["rpc.grpc.status_code"] == 0 and served.status.status_code is not StatusCode.ERROR
    steps = {s.name for s in _descendants(finished, served)}
    assert "cache" in steps, steps  # the answer cache wraps the work
    assert steps & {"vector.search", "rank"}, steps  # and the work happened inside the call's trace


def test_text_search_span_holds_the_embedding(server, spans):
    with SmartLibrary(server.address, timeout=30) as client:
        client.search("a quiet story about the sea and a lighthouse keeper", k=3)
    finished = spans.get_finished_spans()
    served = next(s for s in finished if s.name == "smartlib.v1.RecommendService/SearchByText" and s.kind is SpanKind.SERVER)
    steps = {s.name for s in _descendants(finished, served)}
    assert {"embed", "vector.search"} <= steps, steps


def test_a_catalog_read_span_holds_its_sql(server, spans):
    with SmartLibrary(server.address, timeout=30) as client:
        book_id = client.list_books(page_size=1).iloc[0]["id"]
        spans.clear()
        client.book(book_id)  # a first GetBook of this id: the answer cache misses and the store is read
    finished = spans.get_finished_spans()
    served = next(s for s in finished if s.name == "smartlib.v1.CatalogService/GetBook" and s.kind is SpanKind.SERVER)
    steps = [s.name for s in _descendants(finished, served)]
    assert "sql" in steps and "cache" in steps, steps


def test_the_async_client_sends_its_trace_too(server, spans):
    async def similar(book_id: str) -> None:
        async with AsyncSmartLibrary(server.address, timeout=30) as client:
            await client.similar(book_id, k=3)

    with SmartLibrary(server.address, timeout=30) as sync:
        book_id = sync.list_books(page_size=1).iloc[0]["id"]
    with trace.get_tracer("service").start_as_current_span("handler") as outer:
        asyncio.run(similar(book_id))
    finished = spans.get_finished_spans()
    sent = next(s for s in finished if s.name == SIMILAR and s.kind is SpanKind.CLIENT)
    served = next(s for s in finished if s.name == SIMILAR and s.kind is SpanKind.SERVER)
    assert sent.parent.span_id == outer.get_span_context().span_id
    assert served.parent.span_id == sent.context.span_id and served.context.trace_id == outer.get_span_context().trace_id


def test_a_failed_call_marks_its_server_span_with_the_status(server, spans):
    with SmartLibrary(server.address, timeout=30) as client, pytest.raises(NotFound):
        client.book("no-such-book")

    # context.abort() sends the status before the server's steps unwind, so the client can hold
    # NotFound before the server span has ended (it did on a loaded machine): wait for the span.
    def server_span():
        return next((s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER), None)

    with spans.ended:
        served = spans.ended.wait_for(server_span, timeout=30)
    assert served is not None and served.name == "smartlib.v1.CatalogService/GetBook"
    assert served.status.status_code is StatusCode.ERROR and served.status.description == "NOT_FOUND"
    assert served.attributes["rpc.grpc.status_code"] == 5


def test_the_request_id_comes_from_the_caller_or_is_made(server, spans):
    import grpc

    from smartlib.v1 import catalog_service_pb2, catalog_service_pb2_grpc

    with grpc.insecure_channel(server.address) as channel:
        stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        stub.ListBooks(catalog_service_pb2.ListBooksRequest(page_size=1), metadata=[("x-request-id", "req-42")])
        stub.ListBooks(catalog_service_pb2.ListBooksRequest(page_size=1))
    ids = [s.attributes["smartlib.request_id"] for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert ids[0] == "req-42"
    assert len(ids[1]) == 32 and ids[1] != ids[0]


def test_a_json_log_line_written_inside_a_call_carries_its_trace_and_request_ids(make_server, starter_settings):
    # A call refused for want of a token logs a warning from the auth step, which runs inside
    # the tracing step; the line is formatted as it is written, in the call's context.
    import dataclasses
    import io
    import json
    import logging

    import grpc

    from smartlib.v1 import catalog_service_pb2, catalog_service_pb2_grpc
    from smartlib_server import logs

    settings = dataclasses.replace(starter_settings, auth_token="user-token-7f3a9c1e5b2d4f60")
    server = make_server(settings, load=False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("smartlib_server.api.auth_interceptor")
    logger.addHandler(handler)
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    try:
        with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError):
            catalog_service_pb2_grpc.CatalogServiceStub(channel).ListBooks(
                catalog_service_pb2.ListBooksRequest(page_size=1), timeout=30,
                metadata=[("x-request-id", "log-req-9"), ("traceparent", f"00-{trace_id}-b7ad6b7169203331-01")])
    finally:
        logger.removeHandler(handler)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    denied = [e for e in entries if e["message"].startswith("denied /smartlib.v1.CatalogService/ListBooks")]
    assert len(denied) == 1, entries
    assert denied[0]["request_id"] == "log-req-9" and denied[0]["trace_id"] == trace_id
    assert denied[0]["level"] == "WARNING" and denied[0]["logger"] == "smartlib_server.api.auth_interceptor"
