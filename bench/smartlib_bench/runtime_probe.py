"""Which inference runtime for MiniLM queries: one query, a batch of 8, and fidelity, under load.

    PYTHONPATH=bench python -m smartlib_bench.runtime_probe [--busy 2] [--rounds 3] [--descriptions 1000]

`--busy N` starts N processes spinning on the CPU for the duration, the server's situation
when the gRPC threads and the load generator share its two cores. Every runtime runs the same
bench queries, cut at the serving limit (64 tokens), and is compared with the fp32 torch
reference at full length. The candidates take turns within each round (A B C A B C ...), so a
change in the host's load shifts every one alike. Each is timed in wall time and in this
process's CPU time (every thread's, so torch's spinning OpenMP threads count), which a busy
host inflates far less. Prints a markdown table; each figure is the median of `--rounds`.
`--descriptions N` also checks the serving runtime on the first N descriptions of the 10k CSV
(SMARTLIB_DATA_DIR, default ../shared/data) against fp32 torch.
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

from smartlib_bench.queries import QUERIES
from smartlib_core.embedding import MiniLMTextEncoder
from smartlib_core.runtime import RuntimeTextEncoder, available


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


def candidates(cache: Path) -> dict[str, object]:
    import torch

    def torch_threads(n: int, encoder):
        def call(texts, max_tokens=None):
            torch.set_num_threads(n)
            return encoder(texts, max_tokens=max_tokens)
        return call

    bf16 = MiniLMTextEncoder.for_queries()
    found = {
        "torch fp32, 2 threads": torch_threads(2, MiniLMTextEncoder()),
        "torch bf16 weights, 2 threads (the old query path)": torch_threads(2, bf16),
        "torch bf16 weights, 1 thread": torch_threads(1, bf16),
    }
    for runtime, label in (("onnx", "ONNX Runtime fp32"), ("openvino", "OpenVINO f32"), ("openvino", "OpenVINO bf16 hint")):
        if not available(runtime):
            continue
        for threads in (1, 2):
            found[f"{label}, {threads} thread{'s' * (threads > 1)}"] = RuntimeTextEncoder(
                runtime, cache, threads=threads, bf16="bf16" in label, token_budget=256)
    return found


def descriptions_fidelity(count: int) -> None:
    """Cosine of the serving runtime (bf16 hint) to fp32 torch on `count` catalog descriptions."""
    import os

    from smartlib_server.csv_source import load_file

    folder = Path(os.environ.get("SMARTLIB_DATA_DIR", "../shared/data"))
    rows, _, _, _ = load_file(folder / "goodreads_best_books_10k.csv")
    texts = [book.description for _, book in rows if book.description.strip()][:count]
    with tempfile.TemporaryDirectory() as cache:
        served = RuntimeTextEncoder("openvino", Path(cache), bf16=True)(texts)
    cosines = (served * MiniLMTextEncoder()(texts)).sum(axis=1)
    print(f"{len(texts)} descriptions, OpenVINO bf16 hint vs fp32 torch: cosine mean {cosines.mean():.6f}, "
          f"min {cosines.min():.6f}")


def measure(encode, queries: list[str]) -> tuple[float, float, float, float]:
    """ms per query: (one at a time p50 wall, its mean CPU, batches of 8 wall, their CPU)."""
    encode(queries[:8], max_tokens=64)  # warm
    singles = []
    cpu = time.process_time()
    for text in queries:
        started = time.perf_counter()
        encode([text], max_tokens=64)
        singles.append(time.perf_counter() - started)
    single_cpu = (time.process_time() - cpu) / len(queries)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(queries), 8):
        encode(queries[i : i + 8], max_tokens=64)
    batched, batched_cpu = (time.perf_counter() - started) / len(queries), (time.process_time() - cpu) / len(queries)
    return 1000 * statistics.median(singles), 1000 * single_cpu, 1000 * batched, 1000 * batched_cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on the CPU meanwhile")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--descriptions", type=int, default=0, help="catalog descriptions to check for fidelity")
    parser.add_argument("--only", default="", help="run only candidates whose name contains this")
    args = parser.parse_args(argv)
    if args.descriptions:
        descriptions_fidelity(args.descriptions)
    queries = [f"{q} {i}" for i in range(4) for q in QUERIES]
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    with tempfile.TemporaryDirectory() as cache:
        found = {k: v for k, v in candidates(Path(cache)).items() if args.only.lower() in k.lower()}
        reference = MiniLMTextEncoder()(queries)
        cosines = {name: float((encode(queries, max_tokens=64) * reference).sum(axis=1).min()) for name, encode in found.items()}
        for process in spinners:
            process.start()
        try:
            rows: dict[str, list] = {name: [] for name in found}
            for _ in range(args.rounds):
                for name, encode in found.items():
                    rows[name].append(measure(encode, queries))
        finally:
            stop.set()
    print(f"{len(queries)} queries, {args.busy} busy processes, median of {args.rounds} rounds\n")
    print("| runtime | one query p50 | its CPU | batch of 8, per query | its CPU | min cosine to fp32 torch |\n"
          "|---|---:|---:|---:|---:|---:|")
    for name, runs in rows.items():
        one, one_cpu, batched, batched_cpu = (statistics.median(r[i] for r in runs) for i in range(4))
        print(f"| {name} | {one:.2f} ms | {one_cpu:.2f} ms | {batched:.2f} ms | {batched_cpu:.2f} ms | {cosines[name]:.5f} |")


if __name__ == "__main__":
    main()
