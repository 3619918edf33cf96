"""The lexical index's cost: per query, against the dense scan it is fused with, and in memory.

All in one thread of the bench process, over the served catalog: the lexical step is what
SearchByText adds to a description's ranking (core/smartlib_core/lexical.py), so its cost is
reported beside the dense text-view scan and the whole in-process ranking with and without it.
"""
from __future__ import annotations

import random
import re
import time
import tracemalloc

import numpy as np

from smartlib_bench.queries import QUERIES
from smartlib_core.domain import BookFilter
from smartlib_core.embedding import normalise, text_view
from smartlib_core.lexical import LexicalIndex
from smartlib_core.text_ranking import LEXICAL_POOL


def _sentence(description: str) -> str:
    return " ".join(re.split(r"(?<=[.!?])\s+", description.strip(), maxsplit=1)[0].split()[:25])


def _median_ms(fn, items, repeats: int = 3) -> tuple[float, float]:
    """Median and p99 over `items`, each timed as the best of `repeats` (noise on a shared host)."""
    times = []
    for item in items:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn(item)
            best = min(best, time.perf_counter() - start)
        times.append(best * 1000)
    return float(np.median(times)), float(np.percentile(times, 99))


def _footprint(books) -> tuple[int, float]:
    """Bytes a fresh index over `books` allocates (tracemalloc), and its build time untraced."""
    start = time.perf_counter()
    LexicalIndex().upsert(books)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    index = LexicalIndex()
    index.upsert(books)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    return size, seconds


def run(services, queries: int = 200) -> dict:
    state = services.index.state
    books = list(state.books.values())
    lexical = services.index.lexical
    with_text = [b for b in books if b.description.strip()]
    texts = [_sentence(b.description) for b in random.Random(17).sample(with_text, min(queries, len(with_text)))]
    texts += QUERIES
    unit = normalise(services.inference.embed_queries(texts))  # (n, 2688), as SearchByText has them
    pairs = list(zip(texts, unit, text_view(unit), strict=True))
    lexical_ms, lexical_p99 = _median_ms(lambda t: lexical.search(t, LEXICAL_POOL), texts)
    dense_ms, _ = _median_ms(lambda pair: state.text_view.search(pair[2], 40), pairs)
    text = services.recommend.text
    version = services.index.version

    def rank(pair, with_words: bool):
        words = text.words(state.books, version, pair[0], BookFilter(), lexical) if with_words else None
        text.rank(state.books, version, state.text_view, pair[0], pair[1], 10, BookFilter(), words)

    fused_ms, _ = _median_ms(lambda pair: rank(pair, True), pairs)
    dense_only_ms, _ = _median_ms(lambda pair: rank(pair, False), pairs)
    sizes = {}
    for share in (0.25, 0.5, 1.0):
        part = books[: max(1, int(len(books) * share))]
        sizes[len(part)] = _footprint(part)
    counts = sorted(sizes)
    slope, intercept = np.polyfit(counts, [sizes[n][0] for n in counts], 1)
    full_bytes, build_s = sizes[counts[-1]]
    projected_mib = (slope * 1_000_000 + intercept) / 2**20
    per_book = full_bytes / counts[-1]
    result = {
        "books": len(books), "queries": len(texts), "lexical_p50_ms": lexical_ms, "lexical_p99_ms": lexical_p99,
        "dense_scan_p50_ms": dense_ms, "ranking_fused_p50_ms": fused_ms, "ranking_dense_only_p50_ms": dense_only_ms,
        "bytes_per_book": per_book, "bytes_by_size": {n: sizes[n][0] for n in counts}, "build_s": build_s,
        "projected_1m_mib": projected_mib,
    }
    result["rows"] = [
        (f"lexical step (BM25, top {LEXICAL_POOL}) at {len(books)} books", f"p50 {lexical_ms:.3f} ms, p99 {lexical_p99:.3f} ms",
         f"{lexical_ms / dense_ms:.2f}x the dense text-view scan ({dense_ms:.3f} ms); target ≤ 1 ms"),
        ("SearchByText ranking in process, fused vs dense only", f"{fused_ms:.3f} vs {dense_only_ms:.3f} ms",
         f"{fused_ms - dense_only_ms:+.3f} ms a query (the gRPC phases above include it)"),
        ("memory: lexical index", f"{full_bytes / 2**20:.1f} MiB for {len(books)} books, built in {build_s:.2f} s",
         f"{per_book:.0f} bytes/book; 1M books projected {projected_mib:.0f} MiB (linear fit over 3 sizes)"),
    ]
    return result

