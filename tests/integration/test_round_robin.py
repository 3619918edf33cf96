"""Two real `smartlib serve` processes sharing PostgreSQL, behind one multi-address target:
with load_balancing="round_robin" both clients spread their calls over both replicas (counted
by each server's own /metrics), and calls keep succeeding when one replica is stopped."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request

import pytest

from smartlib_bench.process_bench import stop_server
from smartlib_client import SmartLibrary
from smartlib_client.aio import AsyncSmartLibrary

from .test_replicas import shared_catalog  # noqa: F401 - a fixture: the starter catalog in a fresh schema
from .test_server_process import _free_port

pytestmark = pytest.mark.postgres


def _served(metrics_port: int, method: str = "SearchBooks") -> float:
    """SearchBooks calls this replica answered OK, from its own Prometheus endpoint."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    prefix = "grpc_server_handled_total{"
    for line in text.splitlines():
        if line.startswith(prefix) and f'grpc_method="{method}"' in line and 'grpc_code="OK"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def two_replicas(shared_catalog, tmp_path, seed_compiled):  # noqa: F811 - the imported fixture
    """[(grpc port, metrics port, process)] for replicas a and b, both SERVING."""
    replicas = []
    try:
        for name in ("a", "b"):
            port, metrics = _free_port(), _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
            env.update(SMARTLIB_HOME=str(seed_compiled(tmp_path / name)), SMARTLIB_GRPC_PORT=str(port), SMARTLIB_METRICS_PORT=str(metrics),
                       SMARTLIB_DATABASE_URL=shared_catalog, SMARTLIB_MODEL_STORE=str(tmp_path / "model_store"),
                       SMARTLIB_WARM_ROWS="false", HF_HUB_OFFLINE="1")
            log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process below
            proc = subprocess.Popen([sys.executable, "-m", "smartlib_server", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
            replicas.append((port, metrics, proc, log))
        for port, _, _, _ in replicas:
            with SmartLibrary(f"127.0.0.1:{port}") as lib:
                lib.wait_until_ready(timeout=180)
        yield [(port, metrics, proc) for port, metrics, proc, _ in replicas]
    finally:
        for _, _, proc, log in replicas:
            if proc.poll() is None:
                stop_server(proc)
            log.close()


def test_round_robin_spreads_calls_and_survives_a_stopped_replica(two_replicas):
    (port_a, metrics_a, _), (port_b, metrics_b, proc_b) = two_replicas
    target = f"ipv4:127.0.0.1:{port_a},127.0.0.1:{port_b}"

    # The default policy (pick_first) sends everything over one connection: the control.
    before = _served(metrics_a), _served(metrics_b)
    with SmartLibrary(target, timeout=30) as sticky:
        for _ in range(20):
            assert not sticky.find("the hobbit", limit=1).empty
    pinned = _served(metrics_a) - before[0], _served(metrics_b) - before[1]
    assert sorted(pinned) == [0, 20], pinned

    before = _served(metrics_a), _served(metrics_b)
    with SmartLibrary(target, timeout=30, load_balancing="round_robin") as lib:
        lib.wait_until_ready(timeout=60)
        for _ in range(40):
            assert "Hobbit" in lib.find("the hobbit", limit=1).iloc[0]["title"]

    async def gather_finds() -> list:
        async with AsyncSmartLibrary(target, timeout=30, load_balancing="round_robin") as alib:
            await alib.wait_until_ready(timeout=60)
            return await asyncio.gather(*(alib.find("dune", limit=1, as_records=True) for _ in range(40)))

    assert all(found for found in asyncio.run(gather_finds()))
    spread = _served(metrics_a) - before[0], _served(metrics_b) - before[1]
    assert sum(spread) == 80 and min(spread) >= 20, spread  # each replica took a fair share
    print(f"round_robin: replica a answered {spread[0]:.0f}, replica b {spread[1]:.0f} of 80 calls")

    # Stop b (SIGTERM: NOT_SERVING, drain, exit) while a client holds connections to both.
    with SmartLibrary(target, timeout=30, load_balancing="round_robin") as lib:
        for _ in range(10):
            lib.find("the hobbit", limit=1)
        stop_server(proc_b)
        assert proc_b.returncode == 0
        before_a = _served(metrics_a)
        for _ in range(30):  # every call succeeds: b leaves the rotation, reads retry on a
            assert "Hobbit" in lib.find("the hobbit", limit=1).iloc[0]["title"]
        assert _served(metrics_a) - before_a == 30
