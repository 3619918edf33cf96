"""Both clients retry reads, and only reads, as RetryInfo says, and wait_until_ready follows the
server's health. Tiny servers answer RESOURCE_EXHAUSTED on demand; readiness uses the real one."""
from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    chat_service_pb2_grpc,
    interaction_service_pb2,
    interaction_service_pb2_grpc,
    recommend_service_pb2_grpc,
)
from smartlib_client import DeadlineExceeded, ResourceExhausted, RetryPolicy, SmartLibrary
from smartlib_client.aio import AsyncSmartLibrary

from .test_client import _TinyServer

HINT = 0.3  # the RetryInfo delay the busy server asks for


async def _busy(context, counts: dict, method: str, failures: int) -> None:
    """RESOURCE_EXHAUSTED with RetryInfo, as admission answers, for the first `failures` calls of `method`."""
    counts[method] = counts.get(method, 0) + 1
    if counts[method] <= failures:
        status = status_pb2.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="server busy")
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=int(HINT * 1e9))))
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "server busy",
                            trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),))


class Busy(catalog_service_pb2_grpc.CatalogServiceServicer, interaction_service_pb2_grpc.InteractionServiceServicer,
           recommend_service_pb2_grpc.RecommendServiceServicer, chat_service_pb2_grpc.ChatServiceServicer):
    """Every method is busy `failures` times, then answers; `calls` counts attempts per method."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls: dict[str, int] = {}

    async def GetBook(self, request, context):
        await _busy(context, self.calls, "GetBook", self.failures)
        return books_pb2.Book(id=request.id, title="Dune", authors=["Frank Herbert"])

    async def ListBooks(self, request, context):
        await _busy(context, self.calls, "ListBooks", self.failures)
        return catalog_service_pb2.ListBooksResponse(books=[books_pb2.Book(id="gr-1", title="Dune")])

    async def UpsertBooks(self, request, context):
        await _busy(context, self.calls, "UpsertBooks", self.failures)
        return catalog_service_pb2.UpsertBooksResponse(ids=["gr-1"], created=1)

    async def DeleteBook(self, request, context):
        await _busy(context, self.calls, "DeleteBook", self.failures)
        return catalog_service_pb2.DeleteBookResponse(id=request.id)

    async def RecordInteractions(self, request, context):
        await _busy(context, self.calls, "RecordInteractions", self.failures)
        return interaction_service_pb2.RecordInteractionsResponse(accepted=1)

    async def ForgetUser(self, request, context):
        await _busy(context, self.calls, "ForgetUser", self.failures)
        return interaction_service_pb2.ForgetUserResponse()

    async def Converse(self, request_iterator, context):
        # Busy once the first turn is read: a bidi call that the server ends while the client is
        # still writing its first message gets "Internal error from Core" from gRPC's client core
        # now and then instead of the server's status (see tests/unit/api/shapes.py).
        async for _ in request_iterator:
            break
        await _busy(context, self.calls, "Converse", self.failures)
        yield  # pragma: no cover - never reached while busy


@pytest.fixture
def busy_server():
    started = []

    def start(failures: int) -> tuple[_TinyServer, Busy]:
        busy = Busy(failures)
        started.append(_TinyServer(catalog=busy, personal=busy, chat=busy))
        return started[-1], busy

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=["sync", "async"])
def flavour(request) -> str:
    return request.param


def _calls(flavour: str, address: str, calls, **options):
    """Runs `calls(client)` (a list of zero-argument callables, each one client call) with the
    sync or the async client, and returns [(result or exception, seconds)] for each."""
    def timed(call):
        started = time.perf_counter()
        try:
            return call(), time.perf_counter() - started
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            return exc, time.perf_counter() - started

    if flavour == "sync":
        with SmartLibrary(address, timeout=10, **options) as lib:
            return [timed(call) for call in calls(lib)]

    async def main():
        async with AsyncSmartLibrary(address, timeout=10, **options) as lib:
            out = []
            for call in calls(lib):
                started = time.perf_counter()
                try:
                    out.append((await call(), time.perf_counter() - started))
                except Exception as exc:  # noqa: BLE001
                    out.append((exc, time.perf_counter() - started))
            return out

    return asyncio.run(main())


def test_reads_wait_as_retry_info_says_then_succeed(busy_server, flavour):
    server, busy = busy_server(failures=2)
    [(book, seconds), (pages, _)] = _calls(flavour, f"127.0.0.1:{server.port}", lambda lib: [
        lambda: lib.book("gr-1"), lambda: lib.list_books()])
    assert book["title"] == "Dune" and busy.calls["GetBook"] == 3
    # Two waits, each at least the hint, although the first backoff windows are 0.1 and 0.2 s.
    assert 2 * HINT <= seconds < 2 * HINT + 2.0
    assert list(pages["id"]) == ["gr-1"] and busy.calls["ListBooks"] == 3


def test_writes_forget_and_chat_are_sent_once(busy_server, flavour):
    server, busy = busy_server(failures=1)

    def chat_once(lib):
        if flavour == "sync":
            with lib.chat() as chat:
                return chat.ask("hello")

        async def run():
            async with lib.chat() as chat:
                return await chat.ask("hello")

        return run()

    results = _calls(flavour, f"127.0.0.1:{server.port}", lambda lib: [
        lambda: lib.upsert({"title": "Dune", "author": "Frank Herbert"}),
        lambda: lib.delete("gr-1"),
        lambda: lib.record({"user_id": "u", "book_id": "gr-1", "kind": "like"}),
        lambda: lib.forget_user("u"),
        lambda: chat_once(lib),
    ])
    for (error, seconds), method in zip(results, ("UpsertBooks", "DeleteBook", "RecordInteractions", "ForgetUser", "Converse"),
                                        strict=True):
        assert isinstance(error, ResourceExhausted), (method, error)
        assert error.retry_after == pytest.approx(HINT)  # the hint reaches the caller, who decides
        assert busy.calls[method] == 1, method
        assert seconds < HINT, method  # no wait either


def test_the_total_time_cap_stops_retrying(busy_server, flavour):
    server, busy = busy_server(failures=10)
    policy = RetryPolicy(max_attempts=10, max_elapsed=0.5)
    [(error, seconds)] = _calls(flavour, f"127.0.0.1:{server.port}", lambda lib: [lambda: lib.book("gr-1")], retry=policy)
    assert isinstance(error, ResourceExhausted)
    assert busy.calls["GetBook"] == 2  # waiting again would end past 0.5 s
    assert HINT <= seconds < 0.5 + 1.0


def test_max_attempts_one_turns_retries_off(busy_server, flavour):
    server, busy = busy_server(failures=1)
    [(error, _)] = _calls(flavour, f"127.0.0.1:{server.port}", lambda lib: [lambda: lib.book("gr-1")], max_attempts=1)
    assert isinstance(error, ResourceExhausted) and busy.calls["GetBook"] == 1


# --- wait_until_ready against the real server ---


def test_wait_until_ready_follows_the_health_service(make_server, starter_settings, flavour):
    server = make_server(starter_settings, load=False)  # CatalogService SERVING, RecommendService not yet
    checks = [lambda lib: lib.wait_until_ready(timeout=0.6, interval=0.1),
              lambda lib: lib.wait_until_ready("smartlib.v1.CatalogService", timeout=5)]
    [(early, seconds), (catalog, _)] = _calls(flavour, server.address, lambda lib: [
        lambda: checks[0](lib), lambda: checks[1](lib)])
    assert isinstance(early, DeadlineExceeded) and "NOT_SERVING" in early.message
    assert 0.5 <= seconds < 3.0
    assert catalog is None

    loader = threading.Timer(0.5, server.load)  # the index becomes ready while the client waits
    loader.start()
    try:
        [(ready, seconds)] = _calls(flavour, server.address, lambda lib: [lambda: lib.wait_until_ready(timeout=120)])
    finally:
        loader.join()
    assert ready is None and seconds >= 0.4


def test_wait_until_ready_gives_up_on_a_port_nobody_listens_on(flavour):
    [(error, seconds)] = _calls(flavour, "127.0.0.1:1", lambda lib: [lambda: lib.wait_until_ready(timeout=0.5, interval=0.1)])
    assert isinstance(error, DeadlineExceeded) and "UNAVAILABLE" in error.message and seconds < 5
