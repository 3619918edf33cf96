"""The real `smartlib serve` process: health per service, reflection, graceful SIGTERM."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path, starter_sqlite):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
    env.update(SMARTLIB_HOME=str(home), SMARTLIB_GRPC_PORT=str(port), HF_HUB_OFFLINE="1")
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "smartlib_server", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    yield proc, f"127.0.0.1:{port}", tmp_path / "server.log"
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


def _wait_serving(address: str, service: str, timeout: float = 60) -> float:
    start = time.monotonic()
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() - start < timeout:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                    return time.monotonic() - start
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"{service or 'server'} not SERVING within {timeout}s")


def test_health_reflection_and_graceful_sigterm(served):
    proc, address, log = served
    _wait_serving(address, "smartlib.v1.RecommendService")
    _wait_serving(address, "smartlib.v1.CatalogService")
    with grpc.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for reply in replies for s in reply.list_services_response.service}
        assert {"smartlib.v1.CatalogService", "smartlib.v1.RecommendService", "grpc.health.v1.Health"} <= names
        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            health.Check(health_pb2.HealthCheckRequest(service="smartlib.v1.Nope"), timeout=2)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    assert "shutting down" in log.read_text()


def test_not_serving_until_the_index_is_loaded(make_server, starter_settings):
    server = make_server(starter_settings, load=False)
    with server.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)

        def status(service: str) -> int:
            return health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status

        assert status("") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert status("smartlib.v1.RecommendService") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert status("smartlib.v1.CatalogService") == health_pb2.HealthCheckResponse.SERVING
        server.load()
        assert status("") == health_pb2.HealthCheckResponse.SERVING
        assert status("smartlib.v1.RecommendService") == health_pb2.HealthCheckResponse.SERVING


def test_recommend_is_serving_only_once_the_embedder_is_warm(served):
    """The first write and the first text query after SERVING cost what later ones do: the
    seconds MiniLM takes to load were spent before SERVING (cold, the first call took 3.4 s
    here where later ones took 0.6 s)."""
    from smartlib.v1 import (
        books_pb2,
        catalog_service_pb2 as cs,
        catalog_service_pb2_grpc,
        recommend_service_pb2 as rs,
        recommend_service_pb2_grpc,
    )

    proc, address, log = served
    to_serving = _wait_serving(address, "smartlib.v1.RecommendService", timeout=180)
    assert "embedder loaded and warmed" in log.read_text()

    def timed(call) -> float:
        started = time.monotonic()
        call()
        return time.monotonic() - started

    with grpc.insecure_channel(address) as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        writes = [timed(lambda n=n: catalog.UpsertBooks(cs.UpsertBooksRequest(books=[books_pb2.Book(
            title=f"Warm Start {n}", authors=["Tester"], description=f"A lighthouse keeper hears the sea count to {n}.")]),
            timeout=60)) for n in range(3)]
        queries = [timed(lambda q=q: recommend.SearchByText(rs.SearchByTextRequest(query=q, k=5), timeout=60))
                   for q in ("a heist on a generation ship", "dragons and their kings", "letters between two sisters")]
    print(f"SERVING after {to_serving:.1f}s; UpsertBooks {[round(t * 1000) for t in writes]} ms, "
          f"SearchByText {[round(t * 1000) for t in queries]} ms")
    # Distinct requests, so no answer cache; a cold model would add seconds to the first call.
    assert writes[0] < min(writes[1:]) + 1.0, writes
    assert queries[0] < min(queries[1:]) + 1.0, queries
