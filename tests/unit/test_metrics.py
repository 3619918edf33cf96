"""Metrics: real RPCs through a real grpc.aio server, then a real scrape of /metrics."""
from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc import aio
from prometheus_client.parser import text_string_to_metric_families

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    chat_service_pb2,
    chat_service_pb2_grpc,
)
from smartlib_server.api.metrics_interceptor import MetricsInterceptor
from smartlib_server.config import Settings
from smartlib_server.metrics import ServerMetrics, serve_metrics, start_metrics_endpoint

CATALOG = "smartlib.v1.CatalogService"
CHAT = "smartlib.v1.ChatService"


class TinyCatalog(catalog_service_pb2_grpc.CatalogServiceServicer):
    """Just enough behaviour to end calls with OK, an abort, an escaped error and set_code."""

    async def GetBook(self, request, context):
        if request.id == "gr-1":
            return books_pb2.Book(id="gr-1", title="Dune")
        if request.id == "boom":
            raise RuntimeError("escaped the servicer")
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such book")

    async def DeleteBook(self, request, context):
        # Ends with a code set on the context but no exception.
        context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
        context.set_details("read-only")
        return catalog_service_pb2.DeleteBookResponse()


class TinyChat(chat_service_pb2_grpc.ChatServiceServicer):
    """Echoes each turn as typing, delta, done; aborts on the text "abort"."""

    async def Converse(self, request_iterator, context):
        async for request in request_iterator:
            if request.turn.text == "abort":
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad turn")
            yield chat_service_pb2.ConverseEvent(typing=chat_service_pb2.Typing(turn_id="t"))
            yield chat_service_pb2.ConverseEvent(delta=chat_service_pb2.TextDelta(text=request.turn.text, turn_id="t"))
            yield chat_service_pb2.ConverseEvent(done=chat_service_pb2.TurnDone(turn_id="t"))


@contextlib.asynccontextmanager
async def running_server(metrics: ServerMetrics) -> AsyncIterator[str]:
    server = aio.server(interceptors=[MetricsInterceptor(metrics)])
    catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(TinyCatalog(), server)
    chat_service_pb2_grpc.add_ChatServiceServicer_to_server(TinyChat(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


@pytest.fixture
def metrics() -> ServerMetrics:
    return ServerMetrics()


@pytest.fixture
def endpoint(metrics):
    ep = serve_metrics(metrics, "127.0.0.1", 0)
    yield ep
    ep.close()


def scrape(endpoint) -> dict[tuple[str, frozenset], float]:
    """Fetches /metrics over HTTP and indexes every sample by name and labels."""
    with urllib.request.urlopen(f"http://{endpoint.host}:{endpoint.port}/metrics", timeout=5) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def unary_calls(address: str) -> list[grpc.StatusCode]:
    codes = []
    async with aio.insecure_channel(address) as channel:
        stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        for book_id in ("gr-1", "gr-1", "missing", "boom"):
            try:
                await stub.GetBook(catalog_service_pb2.GetBookRequest(id=book_id), timeout=5)
                codes.append(grpc.StatusCode.OK)
            except aio.AioRpcError as err:
                codes.append(err.code())
        try:
            await stub.DeleteBook(catalog_service_pb2.DeleteBookRequest(id="gr-1"), timeout=5)
            codes.append(grpc.StatusCode.OK)
        except aio.AioRpcError as err:
            codes.append(err.code())
    return codes


def test_unary_rpcs_are_counted_by_final_status(metrics, endpoint):
    async def scenario():
        async with running_server(metrics) as address:
            return await unary_calls(address)

    codes = asyncio.run(scenario())
    # The client saw what the metrics must report.
    assert codes == [
        grpc.StatusCode.OK,
        grpc.StatusCode.OK,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.FAILED_PRECONDITION,
    ]
    s = scrape(endpoint)
    get = {"grpc_type": "unary", "grpc_service": CATALOG, "grpc_method": "GetBook"}
    assert sample(s, "grpc_server_started_total", **get) == 4
    assert sample(s, "grpc_server_handled_total", **get, grpc_code="OK") == 2
    # context.abort() raises inside the servicer; the interceptor still sees NOT_FOUND.
    assert sample(s, "grpc_server_handled_total", **get, grpc_code="NOT_FOUND") == 1
    assert sample(s, "grpc_server_handled_total", **get, grpc_code="UNKNOWN") == 1
    delete = {"grpc_type": "unary", "grpc_service": CATALOG, "grpc_method": "DeleteBook"}
    assert sample(s, "grpc_server_handled_total", **delete, grpc_code="FAILED_PRECONDITION") == 1
    assert sample(s, "grpc_server_handled_total", **delete, grpc_code="OK") == 0
    assert sample(s, "grpc_server_handling_seconds_count", **get, grpc_code="OK") == 2
    assert sample(s, "grpc_server_handling_seconds_sum", **get, grpc_code="OK") > 0
    assert sample(s, "grpc_server_handling_seconds_bucket", **get, grpc_code="OK", le="+Inf") == 2
    assert sample(s, "grpc_server_msg_received_total", **get) == 4
    assert sample(s, "grpc_server_msg_sent_total", **get) == 2


def test_bidi_stream_is_counted_per_message_and_by_abort_code(metrics, endpoint):
    def turn(text):
        return chat_service_pb2.ConverseRequest(turn=chat_service_pb2.UserTurn(session_id="s", text=text))

    async def scenario():
        async with running_server(metrics) as address, aio.insecure_channel(address) as channel:
            stub = chat_service_pb2_grpc.ChatServiceStub(channel)
            ok = [event async for event in stub.Converse(iter([turn("hi"), turn("there")]), timeout=5)]
            aborted = stub.Converse(iter([turn("hi"), turn("abort")]), timeout=5)
            with pytest.raises(aio.AioRpcError) as err:
                async for _ in aborted:
                    pass
            return ok, err.value.code()

    ok_events, abort_code = asyncio.run(scenario())
    assert len(ok_events) == 6
    assert abort_code == grpc.StatusCode.INVALID_ARGUMENT
    s = scrape(endpoint)
    chat = {"grpc_type": "bidi_stream", "grpc_service": CHAT, "grpc_method": "Converse"}
    assert sample(s, "grpc_server_started_total", **chat) == 2
    assert sample(s, "grpc_server_handled_total", **chat, grpc_code="OK") == 1
    assert sample(s, "grpc_server_handled_total", **chat, grpc_code="INVALID_ARGUMENT") == 1
    assert sample(s, "grpc_server_msg_received_total", **chat) == 4
    # Six events on the clean stream and three before the abort.
    assert sample(s, "grpc_server_msg_sent_total", **chat) == 9


def test_unknown_method_is_not_recorded(metrics, endpoint):
    async def scenario():
        async with running_server(metrics) as address, aio.insecure_channel(address) as channel:
            call = channel.unary_unary("/smartlib.v1.Nope/Nothing")
            with pytest.raises(aio.AioRpcError) as err:
                await call(b"", timeout=5)
            return err.value.code()

    assert asyncio.run(scenario()) == grpc.StatusCode.UNIMPLEMENTED
    assert not [key for key in scrape(endpoint) if key[0].startswith("grpc_server_started")]


def test_domain_metrics_reach_the_scrape(metrics, endpoint):
    metrics.cache_hits.labels(backend="memory", kind="similar_books").inc(3)
    metrics.cache_misses.labels(backend="memory", kind="similar_books").inc()
    metrics.set_versions({"embedder": "minilm-l6-v2/2688", "index": "42"})
    metrics.set_index_sizes({"baseline": 120}, {"baseline": 1_290_240})
    with metrics.time_inference("local", "embedder"):
        pass
    with pytest.raises(TimeoutError), metrics.time_inference("torchserve", "encoder"):
        raise TimeoutError
    metrics.inference_fallbacks.labels(model="encoder", reason="timeout").inc()
    with metrics.chat_stream():
        metrics.chat_first_event_seconds.observe(0.02)
        open_streams = sample(scrape(endpoint), "smartlib_chat_active_streams")
    metrics.experiment_exposures.labels(experiment="exp1", arm="control").inc()

    s = scrape(endpoint)
    assert open_streams == 1
    assert sample(s, "smartlib_chat_active_streams") == 0
    assert sample(s, "smartlib_cache_hits_total", backend="memory", kind="similar_books") == 3
    assert sample(s, "smartlib_cache_misses_total", backend="memory", kind="similar_books") == 1
    assert sample(s, "smartlib_versions_info", embedder="minilm-l6-v2/2688", index="42") == 1
    assert sample(s, "smartlib_index_vectors", approach="baseline") == 120
    assert sample(s, "smartlib_index_vectors", approach="finetuned") == 0
    assert sample(s, "smartlib_index_bytes", approach="baseline") == 1_290_240
    assert sample(s, "smartlib_inference_seconds_count", backend="local", model="embedder") == 1
    assert sample(s, "smartlib_inference_seconds_count", backend="torchserve", model="encoder") == 1
    assert sample(s, "smartlib_inference_errors_total", backend="torchserve", model="encoder", reason="timeout") == 1
    assert sample(s, "smartlib_inference_fallbacks_total", model="encoder", reason="timeout") == 1
    assert sample(s, "smartlib_chat_first_event_seconds_count") == 1
    assert sample(s, "smartlib_experiment_exposures_total", experiment="exp1", arm="control") == 1
    # The process collector is on the dedicated registry too.
    assert sample(s, "process_cpu_seconds_total") > 0


def test_no_metric_takes_an_id_label(metrics):
    forbidden = {"user_id", "book_id", "session_id", "turn_id", "recommendation_id", "id", "query", "title"}
    for collector in metrics.registry._collector_to_names:  # every registered metric object
        names = getattr(collector, "_labelnames", ())
        assert not forbidden & set(names), (collector, names)


def test_endpoint_follows_settings(metrics):
    assert start_metrics_endpoint(Settings(metrics_port=0), metrics) is None
    # Bind a free port first so the endpoint has a concrete, non-zero port to use.
    probe = serve_metrics(metrics, "127.0.0.1", 0)
    port = probe.port
    probe.close()
    ep = start_metrics_endpoint(Settings(metrics_port=port, grpc_host="127.0.0.1"), metrics)
    try:
        assert (ep.host, ep.port) == ("127.0.0.1", port)
        assert "grpc_server_started" in urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        ep.close()
