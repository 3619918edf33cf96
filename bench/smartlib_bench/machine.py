"""Ceilings measured in the same run: memory read bandwidth and the machine's description."""
from __future__ import annotations

import os
import platform
import time

import numpy as np


def describe() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1), "python": platform.python_version()}


def read_bandwidth_gbs(megabytes: int = 512, repeats: int = 5) -> float:
    """Single-thread sequential read bandwidth: the best of a few float32 sums over a large array.

    numpy's sum is one thread and vectorised, so it is close to what one core can stream; a
    kernel that reads faster than this (FAISS's) is at the bound, and shows above 100 %.
    """
    data = np.ones(megabytes * 2**20 // 4, dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return data.nbytes / best / 1e9
