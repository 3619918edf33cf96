"""What a real `smartlib serve` imports before RecommendService is SERVING: nothing that only
other commands or other paths need. Each of these once sat on the start path: sentence-
transformers and transformers (the embedder now runs smartlib_core.minilm) and pandas (the
catalog export, which `serve` only registers)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

NOT_BEFORE_SERVING = ("sentence_transformers", "transformers", "pandas")
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


def test_serve_reaches_serving_without_the_libraries_it_does_not_need(tmp_path, starter_sqlite):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
    env.update(SMARTLIB_HOME=str(home), SMARTLIB_GRPC_PORT=str(port), SMARTLIB_METRICS_PORT="0",
               HF_HUB_OFFLINE="1", PYTHONPROFILEIMPORTTIME="1")
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "smartlib_server", "serve"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + WAIT_S
            while not _serving(f"127.0.0.1:{port}"):
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "not SERVING in time"
                time.sleep(0.1)
            imported = _imported(log_path.read_text())  # read at SERVING: later lazy imports do not count
        finally:
            proc.terminate()
            proc.wait(30)
    assert {"torch", "tokenizers", "grpc"} <= imported  # the log does list what a start imports
    assert not imported & set(NOT_BEFORE_SERVING), sorted(imported & set(NOT_BEFORE_SERVING))
