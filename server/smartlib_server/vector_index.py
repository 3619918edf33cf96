"""An in-memory FAISS inner-product index keyed by book id, safe for concurrent search and update."""
from __future__ import annotations

import threading
from collections.abc import Sequence

import faiss
import numpy as np


# FAISS switches to its BLAS path when queries x dimension reaches this. Measured on 10k x 2688:
# a single query is 3.7 ms without BLAS and 8.8 ms with it, but 4 queries take 14.7 ms without
# and 8.0 ms with it, and 32 take 117 ms against 19.9 ms. 2 x 2688 sends every batch of the
# 2688-d index to BLAS and keeps single queries (what serving does) off it.
BLAS_THRESHOLD = 2 * 2688


def configure_faiss(threads: int) -> None:
    """One OpenMP thread gives steady single-query latency on 2 cores (see PERF_NOTES.md)."""
    faiss.omp_set_num_threads(threads)
    faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD


class VectorIndex:
    """IndexFlatIP over unit vectors, with add/remove by book id.

    Searches take a shared lock and updates an exclusive one, so an update never races a search
    and readers do not serialise each other.
    """

    def __init__(self, dim: int):
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._ids: dict[int, str] = {}
        self._rows: dict[str, int] = {}
        self._next = 0
        self._lock = _ReadWriteLock()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        return len(self._rows) * self.dim * 4

    def __contains__(self, book_id: str) -> bool:
        return book_id in self._rows

    def upsert(self, book_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Adds or replaces vectors (already unit-length) for the given ids."""
        if len(book_ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(book_ids), self.dim):
            raise ValueError(f"expected {(len(book_ids), self.dim)} vectors, got {vectors.shape}")
        with self._lock.write():
            stale = [self._rows[b] for b in book_ids if b in self._rows]
            if stale:
                self._index.remove_ids(np.asarray(stale, dtype=np.int64))
            labels = np.arange(self._next, self._next + len(book_ids), dtype=np.int64)
            self._next += len(book_ids)
            self._index.add_with_ids(vectors, labels)
            for label, book_id in zip(labels.tolist(), book_ids):
                old = self._rows.get(book_id)
                if old is not None:
                    del self._ids[old]
                self._rows[book_id] = label
                self._ids[label] = book_id

    def remove(self, book_ids: Sequence[str]) -> None:
        with self._lock.write():
            labels = [self._rows.pop(b) for b in book_ids if b in self._rows]
            if labels:
                self._index.remove_ids(np.asarray(labels, dtype=np.int64))
                for label in labels:
                    del self._ids[label]

    def vector(self, book_id: str) -> np.ndarray | None:
        with self._lock.read():
            label = self._rows.get(book_id)
            return None if label is None else self._index.reconstruct(label)

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Top-k (book id, inner product) per query row."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        with self._lock.read():
            k = min(k, len(self._rows))
            if k <= 0:
                return [[] for _ in range(len(queries))]
            scores, labels = self._index.search(queries, k)
            ids = self._ids
            return [
                [(ids[label], float(score)) for label, score in zip(row_labels, row_scores) if label >= 0]
                for row_labels, row_scores in zip(labels.tolist(), scores.tolist())
            ]


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
