"""The gRPC bench's ratios: every phase over the higher of the two empty-RPC readings of its run.

The load generator is replaced by fixed figures, so which reading is the ceiling is known.
"""
from __future__ import annotations

import threading
import time

import pytest

from smartlib_bench import grpc_bench


def _fake_load(empty_qps: list[float]):
    """A load() whose empty-RPC phases answer `empty_qps` in order, and every other phase 50 qps."""
    readings = iter(empty_qps)

    def load(address, kind, concurrency, seconds, arg="", approach=1):
        return {"qps": next(readings) if kind == "empty" else 50.0, "p50_ms": 1.0, "calls": 1, "errors": 0}

    return load


@pytest.mark.parametrize(("start", "end"), [(100.0, 200.0), (200.0, 100.0)])
def test_every_ratio_is_over_the_higher_empty_reading(monkeypatch, start, end):
    # empty_c8, empty_c32, then empty_c8_end: the ceiling is whichever c8 reading is higher.
    monkeypatch.setattr(grpc_bench, "load", _fake_load([start, 150.0, end]))
    results = grpc_bench.run("unused:0", ["b1"], 0.1, finetuned=True)
    assert results["empty_c8"]["ratio_to_empty_c8"] == start / 200.0
    assert results["empty_c8_end"]["ratio_to_empty_c8"] == end / 200.0
    assert results["empty_c32"]["ratio_to_empty_c8"] == 0.75
    others = [name for name in results if not name.startswith("empty")]
    assert len(others) > 10 and all(results[n]["ratio_to_empty_c8"] == 0.25 for n in others)


def test_the_fusion_ab_counts_each_window_for_the_side_it_ran_and_restores_the_switch(monkeypatch):
    # A fake server completes calls twice as fast with fusion off: the A/B must read 0.5, and
    # leave the switch as it found it (off here, while the A/B starts each run fused).
    state = {"fusion": False, "calls": 0.0}  # off before the A/B: it must be off after it
    stop = threading.Event()

    def serve():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            state["calls"] += (now - last) * (100 if state["fusion"] else 200)
            last = now

    def fusion(on):
        previous, state["fusion"] = state["fusion"], on
        return previous

    def fake_load(address, kind, concurrency, seconds, arg="", approach=1):
        time.sleep(seconds)
        return {"kind": kind, "calls": 1, "errors": 0, "qps": 1.0, "p50_ms": 1.0, "p99_ms": 1.0}

    monkeypatch.setattr(grpc_bench, "load", fake_load)
    server = threading.Thread(target=serve, daemon=True)
    server.start()
    results: dict = {}
    try:
        grpc_bench._fusion_ab(results, fusion, lambda: int(state["calls"]), "address", seconds=0.2)
    finally:
        stop.set()
    ab = results["text_finetuned_miss_c8_fusion_ab"]
    assert ab["windows"] == 16
    assert ab["fused_vs_dense_only"] == pytest.approx(0.5, abs=0.1)
    assert state["fusion"] is False
