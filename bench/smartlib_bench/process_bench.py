"""A real `smartlib serve` process: started, waited for until SERVING, measured, stopped."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from smartlib_bench import grpc_bench
from smartlib_server.config import ENV_PREFIX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    home: Path, *, log: Path | None = None, seed_starter: bool = False, timeout_s: float = 120.0,
    model_store: Path | None = None, command: list[str] | None = None, extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, str, float]:
    """Starts `smartlib serve` (or `command`, which serves the same way) on `home` and a free
    port; returns the process, its address and the seconds it took to report SERVING. Only
    SMARTLIB_MODEL_STORE passes through from the environment (or `model_store` when given), so
    the process serves `home` and nothing else; `extra_env` is added on top."""
    port = free_port()
    keep = f"{ENV_PREFIX}MODEL_STORE"
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) or k == keep}
    env.update({f"{ENV_PREFIX}HOME": str(home), f"{ENV_PREFIX}GRPC_PORT": str(port), "HF_HUB_OFFLINE": "1"})
    if model_store is not None:
        env[keep] = str(Path(model_store).resolve())
    env.update(extra_env or {})
    command = command or [sys.executable, "-m", "smartlib_server", "serve"] + (["--seed-starter"] if seed_starter else [])
    output = log.open("w") if log else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        return proc, address, _wait_serving(address, started, timeout_s, proc, log)
    except BaseException:
        stop_server(proc)
        raise


def wait_for_row_warmer(name: str, log: Path, timeout_s: float = 1800.0) -> None:
    """Until the server's row warmer has finished its pass (its log line in `log`): its building
    would count in the CPU of the calls measured, and a call whose row is not built yet builds it
    (RecommendForUser's first calls) or goes to a worker thread (SimilarBooks)."""
    deadline = time.perf_counter() + timeout_s
    while "reader rows ahead in" not in log.read_text():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{name}: the row warmer did not finish; see {log}")
        time.sleep(1.0)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def process_cpu(pid: int) -> float:
    """CPU seconds of the whole process, threads that ended included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def restart(home: Path, varied_ids: list[str] | None = None, timeout_s: float = 120.0, window_s: float = 5.0,
            model_store: Path | None = None, extra_env: dict[str, str] | None = None) -> dict:
    """Serves an already ingested `home` (so nothing is rebuilt): seconds to SERVING, the RSS
    once serving, after a short settle, and with `varied_ids` (a FINETUNED catalog) how the
    varied SimilarBooks mix runs right after SERVING, against the empty RPC of the same process.

    The mix starts the moment SERVING is seen; its load generator's own start and 20 untimed
    warm-up calls come first, so its measured window is reported as seconds after SERVING.
    `cpu_to_serving_s` is the server's CPU time when SERVING was seen (every thread), which a
    loaded host sways far less than the wall time."""
    proc, address, seconds = start_server(home, timeout_s=timeout_s, model_store=model_store, extra_env=extra_env)
    figures: dict = {"seconds_to_serving": seconds}
    try:
        figures["cpu_to_serving_s"] = process_cpu(proc.pid)
        if varied_ids:
            serving = time.perf_counter()
            # The window ends about `window_s` after SERVING: the generator's start (~1 s) comes off it.
            varied = grpc_bench.load(address, "similar_varied", 8, window_s - 1.0, ",".join(varied_ids), approach=2)
            ended = time.perf_counter() - serving
            window_cpu = process_cpu(proc.pid) - figures["cpu_to_serving_s"]
            empty = grpc_bench.load(address, "empty", 8, window_s)
            figures["after_serving"] = {
                "varied_qps": varied["qps"], "varied_p50_ms": varied["p50_ms"], "varied_errors": varied["errors"],
                "empty_qps": empty["qps"], "ratio_to_empty_c8": varied["qps"] / empty["qps"],
                "window_s": [ended - (window_s - 1.0), ended],
                "varied_cpu_ms": 1000 * window_cpu / (varied["calls"] + 20),  # with the 20 warm-up calls
            }
        time.sleep(1.0)  # let start-up garbage settle before reading RSS
        figures["rss_mib"] = psutil.Process(proc.pid).memory_info().rss / 2**20
        return figures
    finally:
        stop_server(proc)


def built_recommend_services() -> list:
    """Every RecommendService this process builds from now on, in a list filled as they are built:
    the instrumented `--serve` modes of the bench tools reach the server's service through it."""
    from smartlib_server.services.recommend.service import RecommendService

    built: list = []
    init = RecommendService.__init__

    def keep(self, *args, **kwargs):
        init(self, *args, **kwargs)
        built.append(self)
    RecommendService.__init__ = keep
    return built


def serve_here() -> None:
    """Runs `smartlib serve` in this process, after a tool's `--serve` mode has instrumented it."""
    from smartlib_server.cli import main

    sys.argv = ["smartlib", "serve"]
    main()


def _wait_serving(address: str, started: float, timeout_s: float, proc: subprocess.Popen, log: Path | None) -> float:
    request = health_pb2.HealthCheckRequest(service="")
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.perf_counter() - started < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"smartlib serve exited with {proc.returncode}" + (f"; see {log}" if log else ""))
            try:
                if stub.Check(request, timeout=0.5).status == health_pb2.HealthCheckResponse.SERVING:
                    return time.perf_counter() - started
            except grpc.RpcError:
                pass
            time.sleep(0.02)
    raise TimeoutError(f"smartlib serve not SERVING within {timeout_s} s" + (f"; see {log}" if log else ""))
