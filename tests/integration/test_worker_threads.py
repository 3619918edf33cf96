"""The worker pool runs FAISS with SMARTLIB_FAISS_THREADS OpenMP threads. OpenMP keeps that
count per thread, so a pool thread that never set it would search with every core and leave
its idle OpenMP threads spinning against the request threads."""
from __future__ import annotations

import os
import threading

import faiss

from smartlib_server.app import build_services
from smartlib_server.config import Settings


def _threads_in_a_fresh_thread() -> int:
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(faiss.omp_get_max_threads()))
    thread.start()
    thread.join()
    return seen[0]


def test_every_worker_thread_searches_with_the_configured_faiss_threads(tmp_path):
    wanted = (os.cpu_count() or 1) + 1  # unlike what a thread gets by default
    assert _threads_in_a_fresh_thread() != wanted
    services = build_services(Settings(home=tmp_path, faiss_threads=wanted, workers=3))
    try:
        barrier = threading.Barrier(3)

        def read() -> int:
            barrier.wait(10)  # three tasks at once: each on its own worker thread
            return faiss.omp_get_max_threads()

        futures = [services.executor.submit(read) for _ in range(3)]
        assert [f.result(20) for f in futures] == [wanted] * 3
    finally:
        services.close()
