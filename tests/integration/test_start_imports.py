"""What a real `smartlib serve` imports before RecommendService is SERVING: nothing that only
other commands or other paths need. Each of these once sat on the start path: sentence-
transformers and transformers (the embedder now runs smartlib_core.minilm), pandas (the
catalog export, which `serve` only registers), redis and httpx (only with SMARTLIB_REDIS_URL or
SMARTLIB_LLM_URL set), scipy (collaborative filtering trains only on interactions) and, with the
default runtime and its compiled cache warm, torch (the FINETUNED encoder's weights are read as
numpy arrays)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

NOT_BEFORE_SERVING = ("sentence_transformers", "transformers", "pandas", "redis", "httpx", "scipy")
WAIT_S = 120.0  # generous: the machine is shared; nothing here is timed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _imported(log_text: str) -> set[str]:
    """Top-level packages named by -X importtime lines ("import time: self | cumulative | name")."""
    names = set()
    for line in log_text.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="smartlib.v1.RecommendService"), timeout=1)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def _start(home, model_store, tmp_path, name: str) -> set[str]:
    """Serves `home` until RecommendService is SERVING; returns what it imported by then."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
    env.update(SMARTLIB_HOME=str(home), SMARTLIB_GRPC_PORT=str(port), SMARTLIB_METRICS_PORT="0",
               SMARTLIB_MODEL_STORE=str(model_store), HF_HUB_OFFLINE="1", PYTHONPROFILEIMPORTTIME="1")
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "smartlib_server", "serve"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + WAIT_S
            while not _serving(f"127.0.0.1:{port}"):
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "not SERVING in time"
                time.sleep(0.1)
            return _imported(log_path.read_text())  # read at SERVING: later lazy imports do not count
        finally:
            proc.terminate()
            proc.wait(30)


def test_serve_reaches_serving_without_the_libraries_it_does_not_need(tmp_path, starter_sqlite, ranked_store):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    model_store, version = ranked_store
    cold = _start(home, model_store, tmp_path, "cold")  # exports MiniLM and the encoder into home/compiled
    assert {"torch", "tokenizers", "grpc"} <= cold  # the log does list what a start imports
    assert not cold & set(NOT_BEFORE_SERVING), sorted(cold & set(NOT_BEFORE_SERVING))
    assert any(p.name.startswith("encoder-") for p in (home / "compiled").iterdir())  # the FINETUNED one was served
    warm = _start(home, model_store, tmp_path, "warm")
    assert {"openvino", "tokenizers", "safetensors"} <= warm
    assert not warm & {"torch", *NOT_BEFORE_SERVING}, sorted(warm & {"torch", *NOT_BEFORE_SERVING})
