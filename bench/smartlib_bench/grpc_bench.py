"""RPC throughput of the real server against the empty-RPC ceiling of the same server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time


def load(address: str, kind: str, concurrency: int, seconds: float, arg: str = "", approach: int = 1) -> dict:
    """Runs the load generator in a separate process and returns its JSON summary."""
    env = dict(os.environ, APPROACH=str(approach))
    out = subprocess.run(
        [sys.executable, "-m", "smartlib_bench.loadgen", address, kind, str(concurrency), str(seconds), arg],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(address: str, book_ids: list[str], seconds: float, finetuned: bool, varied_ids: list[str] | None = None,
        batches=None, window=None, fusion=None, text_calls=None) -> dict:
    """Every phase, with `ratio_to_empty_c8` against the empty RPC of this run (the higher of its
    readings at c8 before and after the other phases).

    `batches()` snapshots the server's batch-size histograms: each text phase records the batches
    its queries formed. `window(seconds)` sets the query batching window, for the window sweep.
    `fusion(on)` turns SearchByText's lexical fusion on or off (SMARTLIB_TEXT_FUSION) and returns
    the previous state, and `text_calls()` counts the server's completed SearchByText calls, for
    the fused vs dense-only A/B.
    """
    ids = ",".join(book_ids)
    results: dict = {}

    def phase(name, *a, **kw):
        _with_batches(results, name, batches, load, *a, **kw)

    # Untimed warm-up of the miss paths: the first seconds of a fresh server fill its answer
    # cache and allocator arenas and ran ~25 % slower than steady state (measured).
    for approach in (1, 2) if finetuned else (1,):
        load(address, "similar_miss", 8, min(seconds, 3.0), ids, approach=approach)
    for concurrency in (8, 32):
        results[f"empty_c{concurrency}"] = load(address, "empty", concurrency, seconds)
    results["similar_baseline_miss_c8"] = load(address, "similar_miss", 8, seconds, ids, approach=1)
    results["similar_baseline_hit_c8"] = load(address, "similar_hit", 8, seconds, ids, approach=1)
    phase("text_baseline_miss_c8", address, "text_miss", 8, seconds, approach=1)
    if finetuned:
        for concurrency in (8, 32):
            results[f"similar_finetuned_miss_c{concurrency}"] = load(
                address, "similar_miss", concurrency, seconds, ids, approach=2)
        results["similar_finetuned_deep_c8"] = load(address, "similar_deep", 8, seconds, ids, approach=2)
        results["similar_finetuned_hit_c8"] = load(address, "similar_hit", 8, seconds, ids, approach=2)
        varied = ",".join(varied_ids or book_ids)
        # No untimed warm-up: the rows it reads were built ahead (services/recommend/row_warmer.py; the
        # bench waits for them before any phase), as on a server that has been up a while.
        results["similar_finetuned_varied_c8"] = load(address, "similar_varied", 8, seconds, varied, approach=2)
        # RecommendForUser over the same built rows, at the same concurrency and varied the same
        # way (a random one of 200 readers with histories, k 5-20, one id excluded), one exposure
        # stored per call and a click or like recorded after 13% of them (loadgen._personal);
        # issue 30 wants it within 2x of SimilarBooks.
        results["personal_readers_c8"] = load(address, "personal", 8, seconds, varied, approach=2)
        for concurrency in (1, 8, 32):
            phase(f"text_finetuned_miss_c{concurrency}", address, "text_miss", concurrency, seconds, approach=2)
        if fusion is not None:
            _fusion_ab(results, fusion, text_calls, address, seconds)
        if window is not None:
            for wait_ms in (0.0, 1.0, 2.0, 5.0):
                previous = window(wait_ms / 1000)
                phase(f"text_finetuned_miss_c8_window{wait_ms:g}ms", address, "text_miss", 8, seconds, approach=2)
                window(previous)
    # The ceiling again at the end: on a shared host a neighbour's load can make the first
    # reading low, which would flatter every ratio. The higher of the two is the ceiling.
    results["empty_c8_end"] = load(address, "empty", 8, seconds)
    ceiling = max(results["empty_c8"]["qps"], results["empty_c8_end"]["qps"])
    for figures in results.values():
        figures["ratio_to_empty_c8"] = figures["qps"] / ceiling
    if "personal_readers_c8" in results:
        similar = results["similar_finetuned_varied_c8"]
        results["personal_readers_c8"]["qps_vs_similar_varied"] = results["personal_readers_c8"]["qps"] / similar["qps"]
        results["personal_readers_c8"]["p50_vs_similar_varied"] = results["personal_readers_c8"]["p50_ms"] / similar["p50_ms"]
    return results


def _fusion_ab(results: dict, fusion, text_calls, address: str, seconds: float) -> None:
    """SearchByText misses at c8 in one load run while the server flips lexical fusion every
    window (16 windows over 8 x `seconds`); `text_calls()` is the server's count of completed
    SearchByText calls, read at each flip. Separate readings of a few seconds each moved far more
    than fusion costs on a shared host (README, "Fusion's cost to SearchByText"); here a drift in
    a neighbour's load falls on both sides alike. A call in flight at a flip counts for the
    window it ends in, which dilutes the difference by about latency / window."""
    window, count = seconds / 2, 16
    windows: list[tuple[bool, float, int]] = []

    def flip() -> None:
        time.sleep(1.5)  # the generator's start-up and its warm-up calls
        on = True
        previous = fusion(on)
        try:
            for _ in range(count):
                started, calls = time.perf_counter(), text_calls()
                time.sleep(window)
                windows.append((on, time.perf_counter() - started, text_calls() - calls))
                on = not on
                fusion(on)
        finally:
            fusion(previous)
    flipper = threading.Thread(target=flip, name="fusion-ab", daemon=True)
    flipper.start()
    run = load(address, "text_miss", 8, 1.5 + count * window + 0.5, approach=2)
    flipper.join()
    rate = {side: sum(c for on, _, c in windows if on == side) / sum(t for on, t, _ in windows if on == side)
            for side in (True, False)}
    run.update(fused_qps=rate[True], dense_only_qps=rate[False], windows=len(windows),
               fused_vs_dense_only=rate[True] / rate[False] if rate[False] else 0.0)
    results["text_finetuned_miss_c8_fusion_ab"] = run


def _with_batches(results: dict, name: str, batches, load_fn, *args, **kwargs) -> None:
    before = batches() if batches else None
    results[name] = load_fn(*args, **kwargs)
    if before is not None:
        results[name]["batches"] = batch_delta(before, batches())


def batch_delta(before: dict, after: dict) -> dict:
    """Per batcher: batches formed, items, mean items per batch and the histogram between snapshots."""
    out = {}
    for name, (count, total, buckets) in after.items():
        old_count, old_total, old_buckets = before.get(name, (0, 0.0, {}))
        n = count - old_count
        if n <= 0:
            continue
        histogram = {le: c - old_buckets.get(le, 0) for le, c in buckets.items()}
        out[name] = {"batches": n, "items": total - old_total, "mean": (total - old_total) / n, "cumulative": histogram}
    return out
