"""The query-embedding cache and BatchedInference: bounded in bytes, LRU, keyed by normalised text
and embedder version; batched embeddings equal unbatched ones within the cosine bound."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from smartlib_bench.queries import QUERIES
from smartlib_core.embedding import DIM, MiniLMTextEncoder
from smartlib_server.adapters.batched_inference import BatchedInference
from smartlib_server.adapters.inference import LocalInference
from smartlib_server.adapters.query_cache import QueryEmbeddingCache, normalise_query

ROW_BYTES = DIM * 4


def _row(value: float) -> np.ndarray:
    return np.full(DIM, value, dtype=np.float32)


def test_normalising_folds_case_spacing_and_unicode_forms():
    assert normalise_query("  Space\tOPERA\n about  Empires ") == "space opera about empires"
    assert normalise_query("Cafe\u0301") == normalise_query("Café")
    assert normalise_query("space opera") != normalise_query("space operas")


def test_the_cache_is_bounded_in_bytes_and_drops_the_least_recently_used():
    cache = QueryEmbeddingCache(max_bytes=2 * ROW_BYTES, version="v1")
    a, b, c = cache.key("a"), cache.key("b"), cache.key("c")
    cache.put(a, _row(1))
    cache.put(b, _row(2))
    assert cache.get(a)[0] == 1  # a is now the most recent
    cache.put(c, _row(3))
    assert cache.get(b) is None and cache.get(a) is not None and cache.get(c) is not None
    assert cache.nbytes == 2 * ROW_BYTES and len(cache) == 2


def test_the_embedder_version_is_part_of_the_key():
    old, new = QueryEmbeddingCache(ROW_BYTES, "v1"), QueryEmbeddingCache(ROW_BYTES, "v2")
    assert old.key("dragons") != new.key("dragons")
    assert old.key("Dragons ") == old.key("dragons")


class CountingInference:
    """A stand-in Inference that counts the queries it embeds (vectors derived from their length)."""

    backend = "local"
    fallback = None

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_queries(self, texts):
        self.calls.append(list(texts))
        return np.stack([_row(len(t)) for t in texts])

    def embed_books(self, records):
        return np.zeros((len(records), DIM), np.float32)

    def encode(self, vectors):
        return vectors[:, :256] * 2

    def for_encoder(self, version, model):
        return self

    def ready(self):
        return True

    def close(self):
        return None


@pytest.fixture
def batched():
    made = []

    def make(inner, **options):
        made.append(BatchedInference(inner, max_wait_s=0.0, **options))
        return made[-1]

    yield make
    for inference in made:
        inference.close()


def test_repeated_and_respelled_queries_skip_the_model(batched):
    inner = CountingInference()
    inference = batched(inner, cache_bytes=10 * ROW_BYTES)
    first = inference.embed_queries(["Space opera", "space  opera", "dragons"])
    again = inference.embed_queries(["SPACE OPERA"])
    assert inner.calls == [["Space opera", "dragons"]]  # one embedding per distinct key, then none
    np.testing.assert_array_equal(first[0], first[1])
    np.testing.assert_array_equal(again[0], first[0])


def test_with_the_cache_off_every_call_reaches_the_model(batched):
    inner = CountingInference()
    inference = batched(inner, cache_bytes=0)
    inference.embed_queries(["dragons"])
    inference.embed_queries(["dragons"])
    assert len(inner.calls) == 2


def test_encode_and_books_go_through_their_batchers_and_keep_shapes(batched):
    inference = batched(CountingInference())
    vectors = np.arange(3 * DIM, dtype=np.float32).reshape(3, DIM)
    np.testing.assert_array_equal(inference.encode(vectors), vectors[:, :256] * 2)
    assert inference.encode(np.zeros((0, DIM), np.float32)).shape[0] == 0
    assert inference.embed_books([("t",) * 7, ("u",) * 7]).shape == (2, DIM)


BENCH_TEXTS = [f"{q} 1a2b3c4d {n}" for n, q in enumerate(QUERIES)]  # distinct, as the bench sends them
# 122 tokens: the serving cap of 64 cuts it in half.
LONG = " ".join(["a sea captain obsessed with hunting a white whale across the oceans of the world"] * 8)


def _cosines(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)


def _one_by_one(inference, texts) -> np.ndarray:
    return np.stack([inference.embed_queries([t])[0] for t in texts])


def _concurrently(inference, texts) -> tuple[np.ndarray, list[int]]:
    """Each text from its own thread through a BatchedInference; the rows and the batch sizes."""
    sizes: list[int] = []
    batched = BatchedInference(inference, max_batch=64, max_wait_s=0.05, cache_bytes=0,
                               observe=lambda name, items, waited: sizes.append(items) if name == "query" else None)
    results: dict[int, np.ndarray] = {}
    try:
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, batched.embed_queries([texts[i]])[0]))
                   for i in range(len(texts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        batched.close()
    return np.stack([results[i] for i in range(len(texts))]), sizes


@pytest.fixture(scope="module")
def query_paths(text_encoder):
    """The reference (fp32, full length) and the serving query path (bf16 weights, 64 tokens), and
    each of its two differences alone."""
    bf16 = MiniLMTextEncoder.for_queries()
    return {
        "reference": LocalInference(text_encoder),
        "serving": LocalInference(text_encoder, query_max_tokens=64, query_encoder=bf16),
        "bf16 only": LocalInference(text_encoder, query_encoder=bf16),
        "64 tokens only": LocalInference(text_encoder, query_max_tokens=64),
    }


@pytest.fixture(scope="module")
def reference_rows(query_paths):
    return _one_by_one(query_paths["reference"], BENCH_TEXTS)


def test_batching_alone_changes_no_query_vector(query_paths, reference_rows):
    got, sizes = _concurrently(query_paths["reference"], BENCH_TEXTS)
    assert max(sizes) > 1, sizes  # queries really shared forward passes
    assert sum(sizes) == len(BENCH_TEXTS)
    assert _cosines(got, reference_rows).min() >= 0.99999  # padding next to longer texts changes nothing


def test_bf16_weights_alone_stay_within_the_cosine_bound(query_paths, reference_rows):
    assert _cosines(_one_by_one(query_paths["bf16 only"], BENCH_TEXTS), reference_rows).min() >= 0.9999


def test_the_64_token_cap_alone_cuts_long_queries_only(query_paths, reference_rows):
    capped = query_paths["64 tokens only"]
    assert _cosines(_one_by_one(capped, BENCH_TEXTS), reference_rows).min() >= 0.999  # one bench query has 65
    cut = _cosines(capped.embed_queries([LONG]), query_paths["reference"].embed_queries([LONG]))[0]
    assert cut < 0.999  # the cap is applied: the second half of a 122-token query is gone


def test_batched_capped_bf16_queries_match_the_fp32_reference_for_every_bench_query(query_paths, reference_rows):
    got, sizes = _concurrently(query_paths["serving"], BENCH_TEXTS)
    assert max(sizes) > 1, sizes
    cosine = _cosines(got, reference_rows)
    assert cosine.min() >= 0.999, [(BENCH_TEXTS[i], float(cosine[i])) for i in np.argsort(cosine)[:3]]


def test_batch_sizes_waits_and_cache_lookups_reach_metrics():
    from prometheus_client import generate_latest

    from smartlib_server.metrics import ServerMetrics

    metrics = ServerMetrics()
    inference = BatchedInference(
        CountingInference(), max_wait_s=0.0, observe=metrics.observe_batch,
        on_lookup=lambda hit: metrics.query_cache_lookups.labels(result="hit" if hit else "miss").inc(),
    )
    try:
        inference.embed_queries(["a", "bb", "ccc"])
        inference.embed_queries(["A"])
    finally:
        inference.close()
    text = generate_latest(metrics.registry).decode()
    assert 'smartlib_inference_batch_size_bucket{batcher="query",le="2.0"} 0.0' in text
    assert 'smartlib_inference_batch_size_bucket{batcher="query",le="4.0"} 1.0' in text
    assert 'smartlib_inference_batch_size_sum{batcher="query"} 3.0' in text
    assert 'smartlib_inference_batch_wait_seconds_count{batcher="query"} 1.0' in text
    assert 'smartlib_query_cache_lookups_total{result="hit"} 1.0' in text
    assert 'smartlib_query_cache_lookups_total{result="miss"} 3.0' in text
