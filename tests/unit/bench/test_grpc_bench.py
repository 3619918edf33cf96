"""The gRPC bench's ratios: every phase over the higher of the two empty-RPC readings of its run.

The load generator is replaced by fixed figures, so which reading is the ceiling is known.
"""
from __future__ import annotations

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
