"""The TorchServe tier against a real TorchServe 0.12 on loopback (free ports, logs in tmp).

One TorchServe serves the whole module; the failure test kills it with SIGKILL and starts it
again, so it is the last test in the file (pytest runs a file's tests in order).
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import grpc
import numpy as np
import pytest
import torch

pytest.importorskip("ts", reason="TorchServe (torchserve==0.12.0) is not installed")
pytest.importorskip("model_archiver", reason="torch-model-archiver==0.12.0 is not installed")
if shutil.which("java") is None:
    pytest.skip("TorchServe needs Java 17 on PATH", allow_module_level=True)

import psutil  # noqa: E402  (installed with torchserve)

from smartlib.v1 import recommend_service_pb2 as rs, recommend_service_pb2_grpc  # noqa: E402
from smartlib_core.embedding import book_fields  # noqa: E402
from smartlib_core.encoder_model import BookEncoder, load_weights, save_weights  # noqa: E402
from smartlib_core.errors import ConfigError, Unavailable  # noqa: E402
from smartlib_server.adapters import torchserve_stack as stack  # noqa: E402
from smartlib_server.adapters.circuit_breaker import CircuitBreaker  # noqa: E402
from smartlib_server.adapters.inference import LocalInference  # noqa: E402
from smartlib_server.adapters.torchserve_inference import TorchServeInference  # noqa: E402
from smartlib_server.app import starter_catalog_path  # noqa: E402
from smartlib_server.config import Settings  # noqa: E402
from smartlib_server.csv_source import load_file  # noqa: E402
from smartlib_training.mar_export import export_mars  # noqa: E402

pytestmark = pytest.mark.torchserve
REPO = Path(__file__).resolve().parents[2]
VERSION = "enc-test-0001"
QUERIES = ["space opera about galactic empires", "a cosy village mystery", "dragons and magic schools", "é"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class TorchServeUnderTest:
    """Starts, kills and restarts one TorchServe on the same free ports."""

    def __init__(self, root: Path):
        self.model_store = root / "model_store"
        self.run_dir = root / "run"
        self.ports = stack.Ports(*_free_ports(5))
        self.info: stack.StackInfo | None = None

    def start(self) -> stack.StackInfo:
        self.info = stack.start(
            self.model_store, VERSION, REPO / stack.DEFAULT_CONFIG, self.run_dir, self.ports, timeout_s=150
        )
        return self.info

    def processes(self) -> list[psutil.Process]:
        parent = psutil.Process(self.info.pid)
        return [parent, *parent.children(recursive=True)]

    def kill(self) -> None:
        """SIGKILL the frontend and its workers: a crash, not a shutdown."""
        victims = self.processes()
        for process in victims:
            process.kill()
        psutil.wait_procs(victims, timeout=10)
        stack.stop(self.run_dir)  # nothing left to signal; clears the state file and private tmp


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory) -> Path:
    torch.manual_seed(11)
    folder = tmp_path_factory.mktemp("encoders") / VERSION
    folder.mkdir()
    save_weights(BookEncoder(), folder)
    return folder


@pytest.fixture(scope="module")
def torchserve(tmp_path_factory, encoder_dir):
    root = tmp_path_factory.mktemp("torchserve")
    export_mars(root / "model_store", encoder_dir, config_dir=REPO / "model_store" / "config")
    ts = TorchServeUnderTest(root)
    ts.start()
    yield ts
    stack.stop(ts.run_dir)


@pytest.fixture(scope="module")
def local(text_encoder, encoder_dir) -> LocalInference:
    """The in-process reference: the same MiniLM and the same encoder weights."""
    return LocalInference(text_encoder, load_weights(encoder_dir / "encoder.safetensors"))


@pytest.fixture
def remote(torchserve):
    client = TorchServeInference(torchserve.info.grpc_target, version=VERSION, timeout_s=10.0, fallback=None)
    yield client
    client.close()


def test_embedder_parity_on_starter_books_and_queries(remote, local):
    books = [book for _, book in load_file(starter_catalog_path())[0]][:17]
    books += [dataclasses.replace(b, description="", characters=()) for b in books[:3]]  # missing fields
    records = [book_fields(b) for b in books]
    served = remote.embed_books(records)  # 20 books: two calls of BOOKS_PER_CALL and 4
    assert served.shape == (20, 2688)
    assert np.abs(served - local.embed_books(records)).max() <= 1e-5
    assert np.abs(remote.embed_queries(QUERIES) - local.embed_queries(QUERIES)).max() <= 1e-5
    assert remote.stats() == {"remote": 3, "fallback": 0, "failed": 0}


def test_encoder_parity_including_a_multi_chunk_batch(remote, local):
    vectors = np.random.default_rng(5).standard_normal((600, 2688)).astype(np.float32)
    served = remote.encode(vectors)
    assert served.shape == (600, 256)
    assert np.abs(served - local.encode(vectors)).max() <= 1e-5
    assert np.abs(remote.encode(vectors[:1]) - local.encode(vectors[:1])).max() <= 1e-5


def test_concurrent_calls_are_batched_and_stay_exact(remote, local):
    vectors = np.random.default_rng(6).standard_normal((32, 2688)).astype(np.float32)
    results: list[np.ndarray | None] = [None] * 32

    def one(i: int) -> None:
        results[i] = remote.encode(vectors[i : i + 1])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.abs(np.concatenate(results) - local.encode(vectors)).max() <= 1e-5


def test_models_run_with_the_committed_batching_config(torchserve):
    expected = {"smartlib_embedder": (16, 5), "smartlib_encoder": (32, 2)}  # model_store/config/*.yaml
    for name, (batch_size, delay_ms) in expected.items():
        with urllib.request.urlopen(f"{torchserve.info.management_url}/models/{name}", timeout=10) as answer:
            described = json.load(answer)[0]
        assert (described["batchSize"], described["maxBatchDelay"]) == (batch_size, delay_ms)
        assert described["modelVersion"] == VERSION
        assert len(described["workers"]) == 1


def test_readiness_is_a_real_inference(torchserve, remote):
    assert remote.ready()
    wrong_version = TorchServeInference(torchserve.info.grpc_target, version="enc-not-loaded", timeout_s=5.0)
    try:
        assert not wrong_version.ready(), "/ping would say yes; the pinned version is not served"
    finally:
        wrong_version.close()


def test_model_registration_and_removal_are_refused(torchserve):
    management = torchserve.info.management_url
    calls = [
        urllib.request.Request(f"{management}/models?url=smartlib_encoder.mar&model_name=evil", method="POST"),
        urllib.request.Request(f"{management}/models?url=https://example.com/evil.mar", method="POST"),
        urllib.request.Request(f"{management}/models/smartlib_encoder/{VERSION}", method="DELETE"),
    ]
    for request in calls:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 405, request.full_url
    with urllib.request.urlopen(f"{management}/models", timeout=10) as answer:
        served = sorted(m["modelName"] for m in json.load(answer)["models"])
    assert served == ["smartlib_embedder", "smartlib_encoder"]


def test_nothing_listens_beyond_loopback(torchserve):
    listening = []
    for process in torchserve.processes():
        for conn in process.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN or (conn.type == socket.SOCK_DGRAM and not conn.raddr):
                listening.append(conn.laddr)
    assert listening, "TorchServe should be listening somewhere"
    for address in listening:
        ip = ipaddress.ip_address(address.ip)
        ip = ip.ipv4_mapped or ip
        assert ip.is_loopback, f"TorchServe listens on {address.ip}:{address.port}"
    expected = {p for p in vars(torchserve.ports).values()}
    assert expected <= {a.port for a in listening}


def test_calls_fail_fast_and_fall_back_when_nothing_listens(local):
    (dead_port,) = _free_ports(1)
    breaker = CircuitBreaker("test", failure_threshold=2, reset_timeout_s=60)
    fallback = TorchServeInference(f"127.0.0.1:{dead_port}", version=VERSION, timeout_s=1.0, fallback=local, breaker=breaker)
    strict = TorchServeInference(f"127.0.0.1:{dead_port}", version=VERSION, timeout_s=1.0, fallback=None)
    try:
        vectors = np.ones((2, 2688), np.float32)
        for _ in range(3):
            assert np.array_equal(fallback.encode(vectors), local.encode(vectors))
        assert breaker.state.value == "open", "two failures open the circuit; the third call never dials"
        assert fallback.stats() == {"remote": 0, "fallback": 3, "failed": 0}
        started = time.monotonic()
        with pytest.raises(Unavailable):
            strict.embed_queries(["x"])
        assert time.monotonic() - started < 1.5
        assert not strict.ready()
    finally:
        fallback.close()
        strict.close()


def test_from_settings_verifies_local_archives(tmp_path, encoder_dir, local):
    store = tmp_path / "model_store"
    encoder_mar = export_mars(store, encoder_dir, config_dir=REPO / "model_store" / "config")[1]
    settings = Settings(home=tmp_path, model_store=store, inference="torchserve", inference_timeout_ms=750)
    client = TorchServeInference.from_settings(settings, VERSION, fallback=local)
    assert (client.timeout_s, client.version, client.fallback) == (0.75, VERSION, local)
    client.close()
    encoder_mar.write_bytes(encoder_mar.read_bytes()[:-1])
    with pytest.raises(ConfigError, match="does not match"):
        TorchServeInference.from_settings(settings, VERSION, fallback=local)


def test_killing_torchserve_during_recommend_load(torchserve, make_server, starter_settings, starter_sqlite, local, tmp_path):
    """SearchByText load on two servers, one falling back and one not, while TorchServe dies and returns."""
    def client(fallback):
        return TorchServeInference(
            torchserve.info.grpc_target, version=VERSION, timeout_s=2.0, fallback=fallback,
            breaker=CircuitBreaker("ts", failure_threshold=2, reset_timeout_s=0.5),
        )

    with_fallback, without = client(local), client(None)
    strict_settings = Settings(home=tmp_path / "strict", grpc_port=0, model_store=tmp_path / "strict-store")
    strict_settings.home.mkdir(parents=True)
    shutil.copy(starter_sqlite, strict_settings.sqlite_path)
    servers = {
        "fallback": make_server(starter_settings, inference_override=with_fallback),
        "strict": make_server(strict_settings, inference_override=without),
    }
    outcomes = {name: Counter() for name in servers}
    stop = threading.Event()

    def load(name: str, server) -> None:
        with server.channel() as channel:
            stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    # A distinct query each time: the answer cache must not hide the inference tier.
                    query = f"{QUERIES[i % 3]} {i}"
                    reply = stub.SearchByText(rs.SearchByTextRequest(query=query, k=5), timeout=10)
                    outcomes[name]["OK" if len(reply.items) == 5 else "SHORT"] += 1
                except grpc.RpcError as exc:
                    outcomes[name][exc.code().name] += 1
                time.sleep(0.02)

    threads = [threading.Thread(target=load, args=(name, srv), daemon=True) for name, srv in servers.items()]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        before_kill = {name: Counter(c) for name, c in outcomes.items()}
        assert before_kill["fallback"]["OK"] > 0 and before_kill["strict"]["OK"] > 0
        assert with_fallback.stats()["fallback"] == 0, "TorchServe answered everything before the kill"

        torchserve.kill()
        time.sleep(3)
        assert with_fallback.stats()["fallback"] > 0
        assert outcomes["strict"]["UNAVAILABLE"] > 0

        torchserve.start()
        remote_at_restart = (with_fallback.stats()["remote"], without.stats()["remote"])

        def recovered() -> bool:
            now = (with_fallback.stats()["remote"], without.stats()["remote"])
            return all(n >= r + 5 for n, r in zip(now, remote_at_restart, strict=True))

        deadline = time.monotonic() + 30
        while not recovered() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert with_fallback.stats()["remote"] >= remote_at_restart[0] + 5, "the fallback server went back to TorchServe"
        assert without.stats()["remote"] >= remote_at_restart[1] + 5, "the strict server recovered on its own"
        ok_after_recovery = outcomes["strict"]["OK"]
        time.sleep(1.0)
        assert outcomes["strict"]["OK"] > ok_after_recovery
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        with_fallback.close()
        without.close()

    assert set(outcomes["fallback"]) == {"OK"}, f"zero failed RPCs with fallback on: {dict(outcomes['fallback'])}"
    assert set(outcomes["strict"]) == {"OK", "UNAVAILABLE"}, f"only clean UNAVAILABLEs: {dict(outcomes['strict'])}"


def test_server_readiness_comes_from_a_real_inference(torchserve, tmp_path, local):
    """Without fallback, the server is ready only when TorchServe really computes; with it, always."""
    from smartlib_server.app import build_services

    dead = Settings(home=tmp_path / "dead", inference="torchserve", torchserve_url=f"127.0.0.1:{_free_ports(1)[0]}",
                    torchserve_fallback=False, inference_timeout_ms=300)
    live = Settings(home=tmp_path / "live", inference="torchserve", torchserve_url=torchserve.info.grpc_target,
                    torchserve_fallback=False)
    with_fallback = Settings(home=tmp_path / "fb", inference="torchserve", torchserve_url=dead.torchserve_url,
                             torchserve_fallback=True, inference_timeout_ms=300)
    for settings, expected in ((dead, False), (live, True), (with_fallback, True)):
        services = build_services(settings)
        try:
            assert services.inference_ready() is expected, settings.torchserve_url
        finally:
            services.close()
