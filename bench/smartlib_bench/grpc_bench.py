"""RPC throughput of the real server against the empty-RPC ceiling of the same server."""
from __future__ import annotations

import json
import os
import subprocess
import sys


def load(address: str, kind: str, concurrency: int, seconds: float, arg: str = "", approach: int = 1) -> dict:
    """Runs the load generator in a separate process and returns its JSON summary."""
    env = dict(os.environ, APPROACH=str(approach))
    out = subprocess.run(
        [sys.executable, "-m", "smartlib_bench.loadgen", address, kind, str(concurrency), str(seconds), arg],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(address: str, book_ids: list[str], seconds: float, finetuned: bool) -> dict:
    ids = ",".join(book_ids)
    results: dict = {}
    # Untimed warm-up of the miss paths: the first seconds of a fresh server fill its answer
    # cache and allocator arenas and ran ~25 % slower than steady state (measured).
    for approach in (1, 2) if finetuned else (1,):
        load(address, "similar_miss", 8, min(seconds, 3.0), ids, approach=approach)
    for concurrency in (8, 32):
        results[f"empty_c{concurrency}"] = load(address, "empty", concurrency, seconds)
    results["similar_baseline_miss_c8"] = load(address, "similar_miss", 8, seconds, ids, approach=1)
    results["similar_baseline_hit_c8"] = load(address, "similar_hit", 8, seconds, ids, approach=1)
    results["text_baseline_miss_c8"] = load(address, "text_miss", 8, seconds, approach=1)
    if finetuned:
        for concurrency in (8, 32):
            results[f"similar_finetuned_miss_c{concurrency}"] = load(
                address, "similar_miss", concurrency, seconds, ids, approach=2)
        results["similar_finetuned_deep_c8"] = load(address, "similar_deep", 8, seconds, ids, approach=2)
        results["similar_finetuned_hit_c8"] = load(address, "similar_hit", 8, seconds, ids, approach=2)
        results["text_finetuned_miss_c8"] = load(address, "text_miss", 8, seconds, approach=2)
    ceiling = results["empty_c8"]["qps"]
    for name, figures in results.items():
        figures["ratio_to_empty_c8"] = figures["qps"] / ceiling
    return results
