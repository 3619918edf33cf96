"""FAISS search cost against the memory-bandwidth bound, and the BLAS choice for query batches."""
from __future__ import annotations

import time

import faiss
import numpy as np


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def flat_search(matrix: np.ndarray, bandwidth_gbs: float, queries: int = 200) -> dict:
    """Single-query latency of IndexFlatIP over `matrix`, and batches of 32 with/without BLAS."""
    faiss.omp_set_num_threads(1)
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(matrix)
    rng = np.random.default_rng(0)
    picks = matrix[rng.integers(0, len(matrix), size=queries)]
    single = _median_ms(lambda: [index.search(picks[i : i + 1], 10) for i in range(len(picks))], 3) / len(picks)
    bound_ms = matrix.nbytes / (bandwidth_gbs * 1e9) * 1000
    batch = picks[:32]
    configured = faiss.cvar.distance_compute_blas_threshold
    faiss.cvar.distance_compute_blas_threshold = 2**31 - 1  # never BLAS
    batch_default = _median_ms(lambda: index.search(batch, 10), 5)
    faiss.cvar.distance_compute_blas_threshold = 0  # always BLAS
    batch_blas = _median_ms(lambda: index.search(batch, 10), 5)
    faiss.cvar.distance_compute_blas_threshold = configured
    return {
        "vectors": len(matrix), "dim": matrix.shape[1], "index_mb": matrix.nbytes / 1e6,
        "single_query_ms": single, "bandwidth_bound_ms": bound_ms, "fraction_of_bound": bound_ms / single,
        "batch32_default_ms": batch_default, "batch32_blas_ms": batch_blas,
    }
