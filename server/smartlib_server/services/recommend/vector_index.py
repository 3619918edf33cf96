"""An in-memory FAISS inner-product index keyed by book id, safe for concurrent search and update."""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

import faiss
import numpy as np

from smartlib_core.tracing import traced
from smartlib_server.services.recommend.neighbour_table import NeighbourTable
from smartlib_server.services.recommend.screened_scan import Fp16Screen

log = logging.getLogger(__name__)

# FAISS switches to its BLAS path when queries x dimension reaches this. Measured on 10k x 2688:
# a single query is 3.7 ms without BLAS and 8.8 ms with it, but 4 queries take 14.7 ms without
# and 8.0 ms with it, and 32 take 117 ms against 19.9 ms. 2 x 2688 sends every batch of the
# 2688-d index to BLAS and keeps single queries (what serving does) off it.
BLAS_THRESHOLD = 2 * 2688


def configure_faiss(threads: int) -> None:
    """One OpenMP thread gives steady single-query latency on 2 cores (see PERF_NOTES.md).

    OpenMP keeps the thread count per calling thread: every thread that searches must call
    this itself (the worker pool does, as its initializer); a thread that never did uses
    all cores, and its idle OpenMP threads spin.
    """
    faiss.omp_set_num_threads(threads)
    faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD


# Index kinds (SMARTLIB_INDEX_KIND; docs/scale.md has the measurements behind these numbers).
# "flat" scans every vector exactly. "ivf" is IVF with 8-bit scalar-quantised residuals
# (IndexIVFScalarQuantizer, QT_8bit): 4 x sqrt(n) lists, NPROBE of them searched per query.
INDEX_KINDS = ("flat", "ivf")
# Single 256-d flat queries on 1 thread, p50 (scale_bench, docs/scale.md): 0.10 ms at 10k books,
# 0.41 ms at 20k, 1.0 ms at 32,768, 1.7 ms at 50k, 3.4-4.0 ms at 100k and 30-41 ms at 1M, where
# ivf answers in 0.12 ms (100k) and 0.3 ms (1M). Latency climbs once the float32 matrix outgrows
# the 32 MiB L3 cache and every query streams it from DRAM, so "auto" keeps flat while the
# matrix fits in 32 MiB (32,768 books at 256-d, 3,120 at 2688-d) and switches to ivf above.
AUTO_FLAT_MAX_BYTES = 32 * 2**20
IVF_NPROBE = 32  # recall@10 vs flat 0.99 at 100k and 0.97 at 1M on perturbed real vectors
IVF_MIN_TRAIN_PER_LIST = 39  # FAISS warns below 39 training points per list
IVF_TRAIN_PER_LIST = 50  # k-means trains on at most 50 x nlist sampled vectors, 10 iterations
IVF_KMEANS_ITERATIONS = 10


def ivf_nlist(n_books: int) -> int:
    """Inverted lists for a catalog of `n_books`: about 4 x sqrt(n)."""
    return max(1, round(4 * math.sqrt(n_books)))


def choose_index_kind(n_books: int, dim: int, configured: str) -> str:
    """"flat" or "ivf": a configured kind wins; "auto" decides by the size of the flat matrix.

    "auto" only picks ivf when the catalog has enough vectors to train the lists
    (IVF_MIN_TRAIN_PER_LIST per list, about 24k books), so it never relies on the fallback.
    """
    if configured in INDEX_KINDS:
        return configured
    if configured != "auto":
        raise ValueError(f"index kind must be auto, flat or ivf, not {configured!r}")
    big = n_books * dim * 4 > AUTO_FLAT_MAX_BYTES
    return "ivf" if big and n_books >= IVF_MIN_TRAIN_PER_LIST * ivf_nlist(n_books) else "flat"


class VectorIndex:
    """IndexFlatIP (or, with kind="ivf", IVF-SQ8) over unit vectors, with add/remove by book id.

    Searches take a shared lock and updates an exclusive one, so an update never races a search
    and readers do not serialise each other. With `neighbours` > 0 the index also keeps each
    vector's exact top-`neighbours` list (neighbour_table.py), read by `neighbours()`.

    kind="ivf" trains on the vectors of the first non-empty upsert (the load path upserts the
    whole catalog at once) with `nlist` lists (default ivf_nlist(n)); with fewer than
    IVF_MIN_TRAIN_PER_LIST x nlist vectors it logs and stays flat. `kind` then tells which one
    is in use. An ivf index keeps a hashtable from label to list entry, so remove() and
    vector() work; vector() returns the 8-bit decoded vector, not the exact one.
    """

    def __init__(
        self, dim: int, kind: str = "flat", *, neighbours: int = 0, nlist: int | None = None, nprobe: int = IVF_NPROBE,
        screened: bool = False,
    ):
        if kind not in INDEX_KINDS:
            raise ValueError(f"index kind must be one of {INDEX_KINDS}, not {kind!r}")
        self.dim = dim
        self.kind = kind
        self._pending_ivf = kind == "ivf"  # trained on the first upsert
        self._nlist, self._nprobe = nlist, nprobe
        self._table = NeighbourTable(dim, neighbours) if neighbours > 0 else None
        self._flat = faiss.IndexFlatIP(dim)  # (the IDMap2 keeps it alive as well)
        self._index = faiss.IndexIDMap2(self._flat)
        # `screened` (flat only): a float16 copy that single queries scan first (screened_scan.py)
        self._screen = Fp16Screen(dim) if screened and kind == "flat" else None
        self._ids: dict[int, str] = {}
        self._rows: dict[str, int] = {}
        self._next = 0
        self._lock = _ReadWriteLock()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        """Flat: the float32 vectors. Ivf: codes, ids, centroids and the id hashtable as FAISS
        serialises them (within 1 % of len(serialize_index)). Python dicts are not counted."""
        if self.kind == "ivf" and not self._pending_ivf:
            ivf = self._index
            return len(self._rows) * (ivf.code_size + 8 + 16) + ivf.nlist * self.dim * 4
        return len(self._rows) * self.dim * (6 if self._screen is not None else 4)

    @property
    def table_nbytes(self) -> int:
        """The neighbour table's arrays (vectors, neighbour lists), 0 without one."""
        return self._table.nbytes if self._table is not None else 0

    def table_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The neighbour table's rows for `upsert(..., table_rows=)`, positions counted in the
        order of the one upsert that loaded this index; None without a table."""
        if self._table is None:
            return None
        with self._lock.read():
            return self._table.rows()

    def _start_ivf(self, vectors: np.ndarray) -> None:
        """Replaces the (empty) flat index with an IVF-SQ8 one trained on `vectors`, or stays flat."""
        self._pending_ivf = False
        nlist = self._nlist or ivf_nlist(len(vectors))
        if len(vectors) < IVF_MIN_TRAIN_PER_LIST * nlist:
            log.warning("ivf index wanted but %d vectors cannot train %d lists (%d needed): using flat",
                        len(vectors), nlist, IVF_MIN_TRAIN_PER_LIST * nlist)
            self.kind = "flat"
            return
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = IVF_KMEANS_ITERATIONS
        sample = len(vectors) if len(vectors) <= IVF_TRAIN_PER_LIST * nlist else IVF_TRAIN_PER_LIST * nlist
        picks = np.random.default_rng(0).choice(len(vectors), sample, replace=False) if sample < len(vectors) else None
        index.train(vectors if picks is None else vectors[np.sort(picks)])
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = min(self._nprobe, nlist)
        self._quantizer, self._index = quantizer, index  # the IVF index does not own its quantizer
        log.info("ivf index: %d lists, nprobe %d, trained on %d of %d vectors", nlist, index.nprobe, sample, len(vectors))

    def __contains__(self, book_id: str) -> bool:
        return book_id in self._rows

    def upsert(
        self, book_ids: Sequence[str], vectors: np.ndarray, bias: Sequence[float] | None = None,
        table_rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Adds or replaces vectors (already unit-length) for the given ids; `bias` (one per
        id) is what `neighbours(..., bias_weight=w)` adds, times w, to each score. `table_rows`
        (from `table_rows()` of an index loaded with the same ids and vectors) fills an empty
        neighbour table without recomputing it."""
        if len(book_ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(book_ids), self.dim):
            raise ValueError(f"expected {(len(book_ids), self.dim)} vectors, got {vectors.shape}")
        with self._lock.write():
            if self._pending_ivf:
                self._start_ivf(vectors)
            stale = [self._rows[b] for b in book_ids if b in self._rows]
            if stale:
                self._remove_labels(np.asarray(stale, dtype=np.int64))
            labels = np.arange(self._next, self._next + len(book_ids), dtype=np.int64)
            self._next += len(book_ids)
            self._index.add_with_ids(vectors, labels)
            if self._screen is not None:
                self._screen.add(labels, vectors)
            if self._table is not None:
                self._table.add(labels, vectors, None if bias is None else np.asarray(bias, dtype=np.float64), table_rows)
            for label, book_id in zip(labels.tolist(), book_ids, strict=True):
                old = self._rows.get(book_id)
                if old is not None:
                    del self._ids[old]
                self._rows[book_id] = label
                self._ids[label] = book_id

    def remove(self, book_ids: Sequence[str]) -> None:
        with self._lock.write():
            labels = [self._rows.pop(b) for b in book_ids if b in self._rows]
            if labels:
                self._remove_labels(np.asarray(labels, dtype=np.int64))
                for label in labels:
                    del self._ids[label]

    def _remove_labels(self, labels: np.ndarray) -> None:
        """Drops `labels` from the index and what mirrors it (the caller holds the write lock)."""
        self._index.remove_ids(labels)
        if self._table is not None:
            self._table.remove(labels)
        if self._screen is not None:
            self._screen.remove(labels)

    def ids(self) -> list[str]:
        """Every indexed book id, in no particular order."""
        with self._lock.read():
            return list(self._rows)

    def vector(self, book_id: str) -> np.ndarray | None:
        with self._lock.read():
            label = self._rows.get(book_id)
            return None if label is None else self._index.reconstruct(label)

    def vectors(self, book_ids: Sequence[str], *, wait: bool = True) -> np.ndarray | None:
        """(len(book_ids), dim) stored vectors under one lock; a zero row for an id not indexed.
        With `wait=False` (the event loop), None when a write is in progress or waiting."""
        lock = self._reading(wait)
        if lock is None:
            return None
        out = np.zeros((len(book_ids), self.dim), dtype=np.float32)
        with lock:
            rows = self._rows
            found = [(position, label) for position, book_id in enumerate(book_ids)
                     if (label := rows.get(book_id)) is not None]
            if found:
                # One call for all: a reader-ranked row reads ~230 vectors, and one reconstruct
                # per id was 15 % of that row's cost (profile of the varied SimilarBooks mix).
                positions, labels = zip(*found, strict=True)
                out[list(positions)] = self._index.reconstruct_batch(np.asarray(labels, dtype=np.int64))
        return out

    def neighbours(
        self, book_id: str, n: int, *, wait: bool = True, bias_weight: float = 0.0
    ) -> tuple[list[str], list[float]] | None:
        """The best `n` other books for `book_id` from the neighbour table, as ids and scores:
        what a flat `search(vector(book_id), n + 1)` finds, less the book itself (the table is
        exact even when the index is ivf).

        With `bias_weight`, the same `n` books come re-ordered by inner product + bias_weight x
        their upsert bias, with those sums as scores (ties keep the inner-product order), so a
        caller re-ranks without touching any book.

        None when the table cannot answer: there is none, the book is not indexed, its row is
        shallower than `n`, or (`wait=False`, for callers that must not block) a write is in
        progress or waiting.
        """
        if self._table is None:
            return None
        lock = self._reading(wait)
        if lock is None:
            return None
        with lock:
            label = self._rows.get(book_id)
            found = None if label is None else self._table.lookup(label, n)
            if found is None:
                return None
            labels, scores, bias = found
            if bias_weight:
                scores = scores.astype(np.float64) + bias_weight * bias
                order = np.argsort(-scores, kind="stable")
                labels, scores = labels[order], scores[order]
            return list(map(self._ids.__getitem__, labels.tolist())), scores.tolist()

    @traced("vector.search")
    def search(self, queries: np.ndarray, k: int, *, wait: bool = True) -> list[list[tuple[str, float]]] | None:
        """Top-k (book id, inner product) per query row. With `wait=False` (the event loop), None
        when a write is in progress or waiting."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        lock = self._reading(wait)
        if lock is None:
            return None
        with lock:
            k = min(k, len(self._rows))
            if k <= 0:
                return [[] for _ in range(len(queries))]
            found = None
            if self._screen is not None and len(queries) == 1 and 4 * k <= len(self._rows):
                found = self._screen.search(queries, k, self._flat)  # the same answer, fewer bytes read
            scores, labels = found if found is not None else self._index.search(queries, k)
            ids = self._ids
            return [
                [(ids[label], float(score)) for label, score in zip(row_labels, row_scores, strict=True) if label >= 0]
                for row_labels, row_scores in zip(labels.tolist(), scores.tolist(), strict=True)
            ]

    def _reading(self, wait: bool) -> "_Guard | None":
        """A read guard to enter; without `wait`, one already held, or None if it would wait."""
        return self._lock.read() if wait else self._lock.try_read()


class _ReadWriteLock:
    """Many readers or one writer; writers wait for readers to drain and block new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    def read(self) -> "_Guard":
        return _Guard(self._acquire_read, self._release_read)

    def write(self) -> "_Guard":
        return _Guard(self._acquire_write, self._release_write)

    def try_read(self) -> "_Guard | None":
        """A read guard already held, or None when taking one would wait for a writer."""
        with self._cond:
            if self._writing or self._writers_waiting:
                return None
            self._readers += 1
        return _Guard(lambda: None, self._release_read)

    def _acquire_read(self) -> None:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def _release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def _acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True

    def _release_write(self) -> None:
        with self._cond:
            self._writing = False
            self._cond.notify_all()


class _Guard:
    def __init__(self, acquire, release):
        self._acquire, self._release = acquire, release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc) -> None:
        self._release()
