"""`make bench`: measures the serving path against ceilings taken in the same run.

Writes var/bench/results.json and var/bench/report.md (with plots) and prints a summary table.
Use --home to point at an existing catalog (for example one with the 10k books ingested);
by default a temporary starter catalog is built.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from smartlib_bench import (
    batcher_bench,
    chat_bench,
    chat_suite_bench,
    embedding_bench,
    faiss_bench,
    grpc_bench,
    lexical_bench,
    machine,
    process_bench,
    report,
    scale_bench,
    scale_report,
    upsert_bench,
)
from smartlib_core.embedding import EMBEDDER_ID, normalise
from smartlib_server.app import build_services, starter_catalog_path
from smartlib_server.background import BackgroundServer
from smartlib_server.config import Settings
from smartlib_server.csv_source import load_file
from smartlib_server.services.ingest import ingest_csv

REPO = Path(__file__).resolve().parents[2]


def _dataset(args) -> Path:
    return Path(args.data_dir or os.environ.get("SMARTLIB_DATA_DIR", REPO.parent / "shared" / "data")) / "goodreads_best_books_10k.csv"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench")
    parser.add_argument("--home", help="SMARTLIB_HOME of an existing catalog to serve (default: a temporary starter catalog)")
    parser.add_argument("--out", default="var/bench", help="output folder (default var/bench/)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per load phase")
    parser.add_argument("--embed-books", type=int, default=300, help="books in the embedding benchmark")
    parser.add_argument("--upsert-books", type=int, default=1000,
                        help="new books upserted through UpsertBooks against the ingest path (0 skips it)")
    parser.add_argument("--data-dir", help="folder holding goodreads_best_books_10k.csv")
    parser.add_argument("--skip-torchserve", action="store_true", help="skip the TorchServe section (about 2 minutes)")
    parser.add_argument("--skip-cache", action="store_true", help="skip the Redis round-trip section")
    parser.add_argument("--scale-sizes", default="100000,1000000",
                        help="synthetic catalog sizes for the index-type comparison ('' skips it)")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest configuration, for CI: tiny phases, a 1-epoch encoder, no TorchServe")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.embed_books, args.skip_torchserve, args.scale_sizes = 0.5, 6, True, "2000"
        args.upsert_books = 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine.describe(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    print("measuring memory bandwidth ...", flush=True)
    bandwidth = machine.read_bandwidth_gbs()
    results["read_bandwidth_gbs"] = bandwidth

    dataset = _dataset(args)
    if args.embed_books <= 0:
        results["embedding"] = {"skipped": "--embed-books 0"}
    elif dataset.is_file():
        print(f"embedding {args.embed_books} books from {dataset.name}: naive vs ours ...", flush=True)
        books = [b for _, b in load_file(dataset)[0]]
        random.Random(7).shuffle(books)
        results["embedding"] = embedding_bench.run(books[: args.embed_books], repeats=1 if args.smoke else 2)
    else:
        results["embedding"] = {"skipped": f"{dataset} not found"}

    temp = None
    home = Path(args.home) if args.home else None
    if home is None:
        temp = Path(tempfile.mkdtemp(prefix="smartlib-bench-"))
        home = temp
    settings = Settings.from_env(home=home, grpc_port=0, **({"model_store": home / "model_store"} if temp else {}))
    services = build_services(settings)
    try:
        if services.store.count_books() == 0:
            print("building a starter catalog ...", flush=True)
            ingest_csv(services.catalog, starter_catalog_path(), progress=False)
        if temp is not None:
            print("training an encoder on it ...", flush=True)
            _train_encoder(services, settings.model_store, epochs=1 if args.smoke else None)
        server = BackgroundServer(settings, services)
        server.load()
        print("building every book's reader row ahead (services/recommend/row_warmer.py) ...", flush=True)
        warm = _wait_for_rows(services)
        services.warm_up()  # as `smartlib serve` does before SERVING: no phase pays for loading MiniLM
        ids, matrix = services.store.load_vectors(EMBEDDER_ID)
        print(f"FAISS over {len(ids)} books ...", flush=True)
        results["faiss_baseline"] = faiss_bench.flat_search(normalise(matrix), bandwidth)
        finetuned = services.index.finetuned
        encoded = None
        if finetuned is not None:
            encoded = normalise(finetuned.encode(matrix))
            results["faiss_finetuned"] = faiss_bench.flat_search(encoded, bandwidth)
        sample = random.Random(3).sample(ids, min(200, len(ids)))
        print("gRPC load (separate client process) ...", flush=True)
        varied = random.Random(5).sample(ids, min(3000, len(ids)))  # issue 20's mix: a random book of 3,000
        results["grpc"] = grpc_bench.run(server.address, sample, args.seconds, finetuned is not None, varied,
                                         batches=lambda: _batch_histograms(services.metrics),
                                         window=lambda s: _set_window(services.inference, s),
                                         fusion=lambda on: _set_fusion(services.recommend, on),
                                         text_calls=lambda: _text_calls(services.metrics))
        print("SearchByText without gRPC: the query batcher and the search service, in process ...", flush=True)
        results["in_process_text"] = batcher_bench.run(services, args.seconds)
        results["index_memory"] = _index_memory(services)
        print("lexical index: cost per query and memory ...", flush=True)
        lexical = lexical_bench.run(services, queries=50 if args.smoke else 200)
        upsert = None
        if args.upsert_books and dataset.is_file():
            print(f"UpsertBooks of {args.upsert_books} new books vs the ingest path ...", flush=True)
            fresh = [b for _, b in load_file(dataset)[0]]
            random.Random(11).shuffle(fresh)
            upsert = upsert_bench.run(server.address, fresh[: args.upsert_books], services.inference)
        print("chat: the conversation suite's turns over gRPC ...", flush=True)
        chat = chat_suite_bench.run(server.address, "10k" if len(services.index.state.books) >= 5000 else "starter")
        print("chat: 16 conversations at once vs one (separate client process) ...", flush=True)
        chat_concurrency = chat_bench.concurrency_section(server.address, rounds=1 if args.smoke else 2)
        if services.warmer is not None and finetuned is not None and finetuned.ranker is not None:
            # The phases above wrote books; as on a server up a while, the rows of the catalog
            # now are built and stored (derived/reader-rows) before it stops. Not timed.
            _wait_for_rows(services)
        server.stop()
        print("restarting as a separate `smartlib serve` process: time to SERVING, RSS, "
              "varied SimilarBooks in the first 5 s ...", flush=True)
        results["server_process"] = process_bench.restart(home, varied if finetuned is not None else None,
                                                           model_store=settings.model_store)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    sizes = [int(n) for n in args.scale_sizes.split(",") if n.strip()]
    if sizes:
        print(f"index types at {args.scale_sizes} synthetic books ...", flush=True)
        source = f"{len(encoded)} FINETUNED 256-d catalog vectors" if encoded is not None else ""
        results["scale"] = scale_bench.run(sizes, real_vectors=encoded, queries=100 if args.smoke else 1000,
                                           latency_queries=50 if args.smoke else 200, real_source=source)

    results["extra"] = {"lexical": lexical, "row_warmer": warm, "chat": chat,
                         "chat_concurrency": chat_concurrency, **({"upsert": upsert} if upsert else {})}
    if not args.skip_cache:
        print("cache round trips: Redis vs in-process ...", flush=True)
        results["extra"]["cache"] = _cache_section(os.environ.get("SMARTLIB_REDIS_URL") or "redis://127.0.0.1:6379/0")
    if not args.skip_torchserve:
        print("TorchServe vs in-process encoder (starts TorchServe) ...", flush=True)
        results["extra"]["torchserve"] = _torchserve_section(args.seconds)

    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = report.summary_table(results)
    scale = scale_report.markdown(results["scale"]) if "scale" in results else ""
    report.write(out, results, table, scale)
    print(table)
    if scale:
        print("\nIndex types on synthetic catalogs (docs/scale.md):\n\n" + scale)


def _train_encoder(services, model_store: Path, epochs: int | None) -> None:
    """A FINETUNED encoder for a temporary catalog, so its paths are measured too."""
    from smartlib_training.pipeline import run_train
    from smartlib_training.train import TrainParams

    books = {b.id: b for b in services.store.all_books()}
    ids, vectors = services.store.load_vectors(EMBEDDER_ID)
    params = TrainParams(seed=13) if epochs is None else TrainParams(epochs=epochs, seed=13)
    run_train([books[i] for i in ids], vectors, model_store, params, progress=False)


def _wait_for_rows(services, timeout_s: float = 1800.0) -> dict:
    """Waits until the row warmer has built every book's reader row, so that no load phase
    shares the CPU with it and the varied SimilarBooks mix meets built rows, as a server that
    has been up a while does. Returns the time it took from the end of the load, and the
    process RSS before and after (the rows' memory, with the allocator's rounding), each read
    after a collection and malloc_trim so that earlier phases' garbage does not blur it."""
    import ctypes
    import gc

    import psutil

    def rss_mib() -> float:
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        return process.memory_info().rss / 2**20

    warmer, finetuned = services.warmer, services.index.finetuned
    if warmer is None or finetuned is None or finetuned.ranker is None:
        return {"skipped": "no reader ranker, or SMARTLIB_WARM_ROWS=0", "rows": []}
    process = psutil.Process()
    rss_before = rss_mib()
    started = time.perf_counter()
    while not warmer.is_warm():
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"reader rows not built within {timeout_s:.0f} s: {warmer.progress}")
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    progress = warmer.progress
    rss_after = rss_mib()
    figures = {"seconds_after_load": seconds, "pass_seconds": progress.seconds, "rows_built": progress.built,
               "books": progress.total, "rss_before_mib": rss_before, "rss_after_mib": rss_after}
    rows = [("reader rows built ahead at startup", f"{progress.built} rows in {seconds:.1f} s after the load",
             f"RSS {rss_before:.0f} -> {rss_after:.0f} MiB (+{rss_after - rss_before:.0f} MiB)")]
    return {"figures": figures, "rows": rows}


def _batch_histograms(metrics) -> dict:
    """{batcher: (batches, items, {le: cumulative batches})} from smartlib_inference_batch_size."""
    out: dict = {}
    for metric in metrics.batch_size.collect():
        for sample in metric.samples:
            name = sample.labels.get("batcher")
            count, total, buckets = out.get(name, (0, 0.0, {}))
            if sample.name.endswith("_count"):
                count = int(sample.value)
            elif sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_bucket"):
                buckets[sample.labels["le"]] = int(sample.value)
            out[name] = (count, total, buckets)
    return out


def _set_window(inference, seconds: float) -> float:
    """Sets the query batcher's window; returns the previous one (the sweep restores it)."""
    batcher = inference.queries
    previous, batcher.max_wait_s = batcher.max_wait_s, seconds
    return previous


def _text_calls(metrics) -> int:
    """SearchByText calls the server has completed (grpc_server_handled_total, any status)."""
    return int(sum(sample.value for metric in metrics.rpc_handled.collect() for sample in metric.samples
                   if sample.name.endswith("_total") and sample.labels.get("grpc_method") == "SearchByText"))


def _set_fusion(recommend, on: bool) -> bool:
    """Turns SearchByText's lexical fusion on or off (SMARTLIB_TEXT_FUSION); returns the previous state."""
    previous, recommend.text_fusion = recommend.text_fusion, on
    return previous


def _index_memory(services) -> dict:
    """Bytes per book of each serving structure, as held in the server's memory."""
    state = services.index.state
    parts = {f"baseline_{state.baseline.kind}_2688d": (state.baseline.nbytes, len(state.baseline))}
    if state.finetuned is not None:
        index = state.finetuned.index
        parts["finetuned_256d"] = (index.nbytes, len(index))
        parts["finetuned_neighbour_table"] = (index.table_nbytes, len(index))
    memory = {name: {"bytes": size, "books": books, "bytes_per_book": size / books if books else 0.0}
              for name, (size, books) in parts.items()}
    if state.finetuned is not None and state.finetuned.index.table_nbytes:
        memory["similar_rows"] = _similar_rows_memory(services)
    return memory


def _similar_rows_memory(services, sample: int = 1000) -> dict:
    """Traced bytes of the SimilarBooks rows (services/recommend/similar_rows.py) for `sample` books
    answered at k=10, and that cost at the rows' bound. A first pass over the same books leaves
    out what every answer path pays once per book (its encoded Book, its folded genres), so
    only the rows' own memory is counted."""
    import gc
    import tracemalloc

    from smartlib_core.domain import Approach, BookFilter
    from smartlib_server.api import wire
    from smartlib_server.services.recommend import RecommendService
    from smartlib_server.services.recommend.similar_rows import MAX_ROWS

    ids = list(services.index.state.books)[:sample]
    filt = BookFilter(exclude_ids=frozenset({"bench-none"}))

    def answer_all() -> RecommendService:
        service = RecommendService(services.index, services.inference)
        for book_id in ids:
            wire.recommend_response(service.similar_books(book_id, 10, Approach.FINETUNED, filt))
        return service

    answer_all()
    gc.collect()
    tracemalloc.start()
    try:
        service = answer_all()
        gc.collect()
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    rows = len(service.rows)
    per_row = size / rows if rows else 0.0
    return {"bytes": size, "books": rows, "bytes_per_book": per_row, "bound_bytes": per_row * MAX_ROWS}


def _cache_section(redis_url: str) -> dict:
    from smartlib_bench.cache_bench import bench_cache_lookup
    from smartlib_server.adapters.cache import CacheUnavailable

    try:
        figures = bench_cache_lookup(redis_url)
    except CacheUnavailable as exc:
        return {"skipped": f"Redis at {redis_url} unreachable: {exc}", "rows": []}
    rows = [(f"cache {name}", f"{value:.1f}", "") for name, value in figures.items()]
    return {"figures": figures, "rows": rows}


def _torchserve_section(seconds: float) -> dict:
    from smartlib_bench.torchserve_bench import run_bench

    figures = run_bench(seconds=seconds)
    rows = []
    for key, value in figures.items():
        if isinstance(value, (int, float)):
            rows.append((f"torchserve {key}", f"{value:.3f}", ""))
        elif isinstance(value, dict):
            for inner, number in value.items():
                if isinstance(number, (int, float)):
                    rows.append((f"torchserve {key} {inner}", f"{number:.3f}", ""))
    return {"figures": figures, "rows": rows}


if __name__ == "__main__":
    main()
