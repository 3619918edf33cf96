"""The exact top-M neighbours of every indexed vector, precomputed and kept exact under writes.

SimilarBooks asks what lies near a book that is itself in the index, so the index half of the
answer can be computed before anyone asks. One exact k-NN pass at load (N^2 x d
multiply-adds: 0.7 s for 10k x 256 on one core here) then spares every request a FAISS scan and
lets it run without leaving the event loop (see api/servicers.py).

Invariant: row r lists the top min(depth, N - 1) other vectors by inner product, best first.
Every write keeps it:
- an added vector gets its own row, and is merged into each row whose last score it beats
  (every row, while rows still hold all other vectors);
- a removed vector's rows that listed it are recomputed in full.

Each vector may carry a bias (the FINETUNED popularity prior), copied into every row that
lists it, so a request can re-rank its candidates without looking anything up. A label's
vector and bias never change (VectorIndex gives an updated book a new label).

Not thread-safe by itself: VectorIndex calls it under its own read/write lock.
"""
from __future__ import annotations

import faiss
import numpy as np


class NeighbourTable:
    def __init__(self, dim: int, depth: int):
        if depth < 1:
            raise ValueError("depth must be positive")
        self.dim = dim
        self.depth = depth
        self._n = 0  # slots in use: [0, _n)
        self._vectors = np.empty((0, dim), dtype=np.float32)
        self._labels = np.empty(0, dtype=np.int64)
        self._bias = np.empty(0, dtype=np.float64)  # float64: re-ranked sums match Python's floats
        self._slot: dict[int, int] = {}
        self._nbr = np.empty((0, depth), dtype=np.int64)  # neighbour labels per slot
        self._score = np.empty((0, depth), dtype=np.float32)
        self._nbr_bias = np.empty((0, depth), dtype=np.float64)
        self._len = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        capacity = len(self._labels)
        return capacity * (self.dim * 4 + 8 + 8 + self.depth * 20 + 8)

    def lookup(self, label: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Labels, scores and biases of the best `n` neighbours of `label`, or None when the
        row is shallower than `n` and does not already hold every other vector."""
        slot = self._slot.get(label)
        if slot is None:
            return None
        length = int(self._len[slot])
        if n > length and length < self._n - 1:
            return None
        n = min(n, length)
        return self._nbr[slot, :n], self._score[slot, :n], self._nbr_bias[slot, :n]

    def add(
        self, labels: np.ndarray, vectors: np.ndarray, bias: np.ndarray | None = None,
        rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Adds vectors (and their biases, default 0) under new labels; callers remove a label
        before re-adding it. `rows`, what `rows()` returned for the same vectors, labels aside,
        fills an empty table without computing anything."""
        count = len(labels)
        if count == 0:
            return
        old = self._n
        if rows is not None:
            self._restore(labels, vectors, np.zeros(count) if bias is None else bias, rows)
            return
        self._grow(old + count)
        self._vectors[old : old + count] = vectors
        self._labels[old : old + count] = labels
        self._bias[old : old + count] = 0.0 if bias is None else bias
        for offset, label in enumerate(labels.tolist()):
            self._slot[label] = old + offset
        self._n = old + count
        if count * 4 > old:  # a bulk load: one blocked product beats merging row by row
            self._recompute(np.arange(self._n))
            return
        new_slots = np.arange(old, self._n)
        scores = self._vectors[:old] @ vectors.T  # (old, count)
        deep = self._len[:old] >= self.depth
        bar = np.where(deep, self._score[np.arange(old), np.maximum(self._len[:old] - 1, 0)], -np.inf)
        for slot in np.flatnonzero((scores > bar[:, None]).any(axis=1)).tolist():
            beats = scores[slot] > bar[slot]
            self._merge(slot, labels[beats], scores[slot, beats], self._bias[old : self._n][beats])
        self._recompute(new_slots)

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row as (neighbour positions, scores, lengths), positions counting from the
        first vector added: what `add(..., rows=)` takes to skip the k-NN pass. Only a table
        filled by one add and never changed since has them."""
        n = self._n
        first = int(self._labels[0]) if n else 0
        if not np.array_equal(self._labels[:n], np.arange(first, first + n)):
            raise ValueError("rows() needs a table filled by a single add and not changed since")
        return self._nbr[:n] - first, self._score[:n].copy(), self._len[:n].copy()

    def _restore(self, labels: np.ndarray, vectors: np.ndarray, bias: np.ndarray, rows) -> None:
        positions, scores, lengths = rows
        count = len(labels)
        if self._n:
            raise ValueError("stored rows can only fill an empty table")
        if positions.shape != (count, self.depth) or scores.shape != (count, self.depth) or lengths.shape != (count,):
            raise ValueError("stored rows do not match the vectors")
        if count and (lengths.max() > min(self.depth, count - 1) or positions.min() < 0 or positions.max() >= count):
            raise ValueError("stored rows point outside the vectors")
        self._grow(count)
        bias = np.asarray(bias, dtype=np.float64)
        self._vectors[:count], self._labels[:count], self._bias[:count] = vectors, labels, bias
        self._slot = {label: slot for slot, label in enumerate(labels.tolist())}
        self._nbr[:count], self._score[:count], self._len[:count] = labels[positions], scores, lengths
        self._nbr_bias[:count] = bias[positions]
        self._n = count

    def remove(self, labels: np.ndarray) -> None:
        slots = [self._slot.pop(label) for label in labels.tolist() if label in self._slot]
        if not slots:
            return
        for slot in sorted(slots, reverse=True):  # fill each hole with the last slot
            last = self._n - 1
            if slot != last:
                self._move(last, slot)
            self._n = last
        n = self._n
        positions = np.arange(self.depth)[None, :] < self._len[:n, None]
        stale = (np.isin(self._nbr[:n], labels) & positions).any(axis=1)
        self._recompute(np.flatnonzero(stale))

    def _merge(self, slot: int, labels: np.ndarray, scores: np.ndarray, bias: np.ndarray) -> None:
        length = int(self._len[slot])
        all_labels = np.concatenate([self._nbr[slot, :length], labels])
        all_scores = np.concatenate([self._score[slot, :length], scores])
        all_bias = np.concatenate([self._nbr_bias[slot, :length], bias])
        order = np.argsort(-all_scores, kind="stable")[: self.depth]
        self._nbr[slot, : len(order)] = all_labels[order]
        self._score[slot, : len(order)] = all_scores[order]
        self._nbr_bias[slot, : len(order)] = all_bias[order]
        self._len[slot] = len(order)

    def _recompute(self, slots: np.ndarray) -> None:
        """Rebuilds the rows of `slots` from every vector (FAISS: blocked products and heaps)."""
        n = self._n
        keep = min(self.depth, n - 1)
        self._len[slots] = max(keep, 0)
        if keep <= 0 or len(slots) == 0:
            return
        scores, found = faiss.knn(self._vectors[slots], self._vectors[:n], keep + 1, metric=faiss.METRIC_INNER_PRODUCT)
        # Drop each row's own slot; a row whose own slot lost a tie drops its last instead.
        others = found != slots[:, None]
        others[others.all(axis=1), -1] = False
        found = found[others].reshape(len(slots), keep)
        self._nbr[slots, :keep] = self._labels[found]
        self._nbr_bias[slots, :keep] = self._bias[found]
        self._score[slots, :keep] = scores[others].reshape(len(slots), keep)

    def _move(self, source: int, target: int) -> None:
        self._vectors[target] = self._vectors[source]
        self._labels[target] = self._labels[source]
        self._bias[target] = self._bias[source]
        self._nbr[target] = self._nbr[source]
        self._score[target] = self._score[source]
        self._nbr_bias[target] = self._nbr_bias[source]
        self._len[target] = self._len[source]
        self._slot[int(self._labels[target])] = target

    def _grow(self, needed: int) -> None:
        capacity = len(self._labels)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2, 64)

        def grown(array: np.ndarray) -> np.ndarray:
            bigger = np.empty((capacity,) + array.shape[1:], dtype=array.dtype)
            bigger[: self._n] = array[: self._n]
            return bigger

        self._vectors, self._labels, self._bias = grown(self._vectors), grown(self._labels), grown(self._bias)
        self._nbr, self._score, self._len = grown(self._nbr), grown(self._score), grown(self._len)
        self._nbr_bias = grown(self._nbr_bias)
