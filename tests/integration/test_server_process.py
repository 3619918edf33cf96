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
