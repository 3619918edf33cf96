"""The start sequence (server._prepare): the indexes load while the embedder loads and warms, and
RecommendService is SERVING only once both are done, so the first request after SERVING finds
an index that answers and an embedder that is warm."""
from __future__ import annotations

import asyncio
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from smartlib_core.domain import BookFilter
from smartlib_server import server as server_module
from smartlib_server.app import build_services

RECOMMEND = "smartlib.v1.RecommendService"
WAIT_S = 60.0  # generous: the machine is shared; nothing here is timed


class Gate:
    """Wraps a start step: records that it began, then holds it until released."""

    def __init__(self, step):
        self.step, self.began, self.release = step, threading.Event(), threading.Event()

    def __call__(self, *args, **kwargs):
        self.began.set()
        assert self.release.wait(WAIT_S), "the test never released this step"
        return self.step(*args, **kwargs)


async def status(port: int, service: str = RECOMMEND) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
        return reply.status


async def until(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, WAIT_S)


def on_a_started_server(settings, services, scenario) -> None:
    """Runs `scenario(app)` against a started (not yet prepared) server, then stops it and closes
    the services, whatever the scenario asserted."""

    async def run() -> None:
        app = server_module.build_server(settings, services)
        await app.start()
        try:
            await scenario(app)
        finally:
            await app.stop(0)

    try:
        asyncio.run(run())
    finally:
        services.close()


@pytest.mark.parametrize("held", ["load", "warm_up"])
def test_the_index_and_the_embedder_start_at_once_and_serving_waits_for_both(starter_settings, inference, held):
    services = build_services(starter_settings, inference=inference)
    steps = {"load": Gate(services.load), "warm_up": Gate(services.warm_up)}
    services.load, services.warm_up = steps["load"], steps["warm_up"]
    other = steps["warm_up" if held == "load" else "load"]
    other.release.set()

    async def scenario(app) -> None:
        prepare = asyncio.create_task(server_module._prepare(app, seed_starter=False))
        await until(steps[held].began)
        await until(other.began)  # began while `held` is held: the two run at once
        await asyncio.sleep(0.2)  # time for the other step to finish, if it were to
        assert await status(app.port) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await status(app.port, "") == health_pb2.HealthCheckResponse.NOT_SERVING
        steps[held].release.set()
        await asyncio.wait_for(prepare, WAIT_S)
        assert await status(app.port) == health_pb2.HealthCheckResponse.SERVING
        book_id = sorted(services.index.books)[0]  # the index answers the moment it is SERVING
        assert len(services.recommend.similar_books(book_id, 5, None, BookFilter()).items) == 5

    on_a_started_server(starter_settings, services, scenario)


@pytest.fixture
def unfreezing():
    yield
    import gc

    gc.unfreeze()  # hand this test process's objects back to the collector


@pytest.mark.parametrize("freeze", [False, True])
def test_serve_freezes_what_the_start_loaded(starter_settings, inference, unfreezing, freeze):
    """`smartlib serve` (freeze=True) leaves the loaded catalog, indexes and models to reference
    counting alone, so the collector's full passes do not walk them under load."""
    import gc

    services = build_services(starter_settings, inference=inference)
    book_lists = []

    async def scenario(app) -> None:
        assert gc.get_freeze_count() == 0
        await asyncio.wait_for(server_module._prepare(app, seed_starter=False, freeze=freeze), WAIT_S)
        assert await status(app.port) == health_pb2.HealthCheckResponse.SERVING
        book_lists.append(services.index.state.books)

    on_a_started_server(starter_settings, services, scenario)
    assert (gc.get_freeze_count() > 0) is freeze
    books = book_lists[0]  # the served catalog: frozen with the rest, so full passes skip it
    assert any(o is books for o in gc.get_objects()) is not freeze
