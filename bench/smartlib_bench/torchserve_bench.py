"""Benchmark: the TorchServe tier against in-process inference.

    python -m smartlib_bench.torchserve_bench [--seconds 5] [--model-store DIR --version V]

1. Encoder throughput, one 2688-d vector per call, at concurrency 1, 8 and 32: TorchServe (with
   its dynamic batching) over in-process, as a ratio measured in the same run.
2. The latency one SearchByText adds when its query embedding comes from TorchServe: p50 and p95
   of one query embedding at concurrency 1, TorchServe minus in-process (with the process's
   default torch threads, and with one thread like the TorchServe worker).

Without --model-store it exports a random encoder into a temporary store (throughput does not
depend on the weights). TorchServe runs on free loopback ports and is stopped afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from smartlib_server.adapters import torchserve_stack as stack

REPO = Path(__file__).resolve().parents[2]
QUERIES = ["space opera about galactic empires", "a cosy village mystery", "dragons and a school of magic",
           "grief and friendship in a small town", "hard science fiction about first contact"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def throughput(call: Callable[[int], object], concurrency: int, seconds: float) -> float:
    """Calls per second with `concurrency` threads each calling call(i) in a loop."""
    stop = threading.Event()
    counts = [0] * concurrency
    barrier = threading.Barrier(concurrency + 1)

    def worker(slot: int) -> None:
        barrier.wait()
        i = slot
        while not stop.is_set():
            call(i)
            counts[slot] += 1
            i += concurrency

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def latencies_ms(call: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def run_bench(seconds: float = 5.0, concurrencies: tuple[int, ...] = (1, 8, 32), model_store: Path | None = None,
              version: str = "", latency_samples: int = 60) -> dict:
    """Starts TorchServe, measures, stops it; returns the numbers as a dict (see module doc)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from smartlib_core.embedding import MiniLMTextEncoder
    from smartlib_core.encoder_model import BookEncoder, load_weights, save_weights
    from smartlib_server.adapters.inference import LocalInference
    from smartlib_server.adapters.torchserve_inference import TorchServeInference
    from smartlib_training.mar_export import archive_dir, export_mars

    with tempfile.TemporaryDirectory(prefix="sl-bench-") as tmp:
        tmp_path = Path(tmp)
        if model_store is None:
            torch.manual_seed(0)
            version = version or "bench-random"
            weights_dir = tmp_path / "encoders" / version
            weights_dir.mkdir(parents=True)
            save_weights(BookEncoder(), weights_dir)
            model_store = tmp_path / "model_store"
            export_mars(model_store, weights_dir, config_dir=REPO / "model_store" / "config")
        info = stack.start(model_store, version, REPO / stack.DEFAULT_CONFIG, tmp_path / "run",
                           stack.Ports(*_free_ports(5)))
        try:
            encoder = load_weights(_extract_weights(archive_dir(model_store, info.version), tmp_path))
            local = LocalInference(MiniLMTextEncoder(), encoder)
            remote = TorchServeInference(info.grpc_target, version=info.version, timeout_s=10.0)
            vectors = np.random.default_rng(0).standard_normal((4096, 2688)).astype(np.float32)
            rows = [vectors[i : i + 1] for i in range(len(vectors))]
            for fn in (remote.encode, local.encode):  # warm both paths
                for row in rows[:20]:
                    fn(row)
            encoder_rows = []
            for c in concurrencies:
                served = throughput(lambda i: remote.encode(rows[i % len(rows)]), c, seconds)
                in_process = throughput(lambda i: local.encode(rows[i % len(rows)]), c, seconds)
                encoder_rows.append({"concurrency": c, "torchserve_per_s": round(served, 1),
                                     "in_process_per_s": round(in_process, 1), "ratio": round(served / in_process, 3)})
            local.embed_queries(QUERIES)  # load MiniLM before timing
            remote.embed_queries(QUERIES)
            served_ms = latencies_ms(lambda i: remote.embed_queries([QUERIES[i % len(QUERIES)]]), latency_samples)
            local_ms = latencies_ms(lambda i: local.embed_queries([QUERIES[i % len(QUERIES)]]), latency_samples)
            # TorchServe's worker runs one torch thread; the same in-process isolates the hop's cost
            # from thread-count effects (on a busy machine 2 threads can be much slower than 1).
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                local_1t_ms = latencies_ms(lambda i: local.embed_queries([QUERIES[i % len(QUERIES)]]), latency_samples)
            finally:
                torch.set_num_threads(threads)
            remote.close()
        finally:
            stack.stop(tmp_path / "run")
    return {
        "torchserve_version": info.version,
        "workers_per_model": 1,
        "torch_threads": {"torchserve_worker": 1, "in_process": torch.get_num_threads()},
        "encoder_throughput": encoder_rows,
        "query_embedding_ms": {
            "torchserve_p50": round(_p(served_ms, 50), 2), "torchserve_p95": round(_p(served_ms, 95), 2),
            "in_process_p50": round(_p(local_ms, 50), 2), "in_process_p95": round(_p(local_ms, 95), 2),
            "in_process_1_thread_p50": round(_p(local_1t_ms, 50), 2),
            "added_p50": round(_p(served_ms, 50) - _p(local_ms, 50), 2),
            "added_mean": round(statistics.fmean(served_ms) - statistics.fmean(local_ms), 2),
            "added_p50_vs_1_thread": round(_p(served_ms, 50) - _p(local_1t_ms, 50), 2),
        },
    }


def _extract_weights(folder: Path, tmp_path: Path) -> Path:
    """The encoder weights exactly as TorchServe serves them, read back from the archive."""
    import zipfile

    target = tmp_path / "served"
    with zipfile.ZipFile(folder / "smartlib_encoder.mar") as archive:
        archive.extract("encoder.safetensors", target)
    return target / "encoder.safetensors"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.torchserve_bench")
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput measurement")
    parser.add_argument("--model-store", type=Path, default=None)
    parser.add_argument("--version", default="")
    args = parser.parse_args(argv)
    print(json.dumps(run_bench(args.seconds, model_store=args.model_store, version=args.version), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
