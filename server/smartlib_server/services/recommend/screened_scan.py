"""A float16 copy of a flat index that a single query scans first, with the flat scan's exact answer.

SearchByText scans the 384-d text view of every book once a request. Between two requests the
MiniLM passes evict it from the caches, so the float32 scan streams 15 MB from memory at 10k
books; the float16 copy is half of that. The copy only narrows the candidates: every book whose
float16 score could reach the k-th best float32 score is kept (a bound proven from each vector's
float16 rounding error), and those few vectors are scored again by FAISS's own flat kernel in
their positions' order, so the books, their scores to the bit and the order of ties are what
the flat index alone returns (tests/unit/services/test_screened_scan.py).
"""
from __future__ import annotations

import faiss
import numpy as np

# FAISS sums d float32 products; each sum's rounding is at most about d * 2^-24 of the sum of the
# products' magnitudes (bounded by the norms' product). Counted twice (float16 and float32 sums), with slack.
_ROUNDING = 4 * 2.0**-24


class Fp16Screen:
    """The float16 copy of a flat index: the same rows in the same positions (both append and
    both compact in order on removal), with the label of each. Not locked itself: VectorIndex
    calls it under its own lock."""

    def __init__(self, dim: int):
        self.dim = dim
        self._index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        self._labels = np.zeros(0, dtype=np.int64)  # by position; ascending, as labels are handed out
        self._error = 0.0  # the largest |x - float16(x)| (L2) of any vector added; never lowered
        self._norm = 0.0  # the largest |x| of any vector added; never lowered

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Appends `vectors` (float32, contiguous) under `labels`, each above every label held."""
        self._index.add(vectors)
        self._labels = np.concatenate([self._labels, labels])
        decoded = self._index.reconstruct_n(self._index.ntotal - len(labels), len(labels))
        # x - float16(x) is exact in float32 (the two are that close); the sums' own rounding is
        # far below the 1e-3 added.
        difference = np.subtract(vectors, decoded, out=decoded)
        error = float(np.einsum("ij,ij->i", difference, difference).max()) ** 0.5
        norm = float(np.einsum("ij,ij->i", vectors, vectors).max()) ** 0.5
        self._error = max(self._error, error * 1.001)
        self._norm = max(self._norm, norm * 1.001)

    def remove(self, labels: np.ndarray) -> None:
        positions = np.searchsorted(self._labels, labels)
        self._index.remove_ids(positions)
        self._labels = np.delete(self._labels, positions)

    def search(self, query: np.ndarray, k: int, flat: faiss.IndexFlat) -> tuple[np.ndarray, np.ndarray] | None:
        """What the flat scan of `flat` (the index this copy mirrors) answers for one query, as
        (scores, labels); None when only that scan can say (a tie across the k-th place).
        k must be at most the number of rows."""
        n = self._index.ntotal
        if flat.ntotal != n:
            return None  # never expected: the two are written together
        bound = float(np.linalg.norm(query.astype(np.float64))) * (self._error + _ROUNDING * self.dim * self._norm)
        fetch = min(n, max(2 * k, k + 32))
        while True:
            scores, positions = self._index.search(query, fetch)
            scores, positions = scores[0], positions[0]
            # The k-th exact score is at least scores[k-1] - bound, so a book in the exact top k
            # scores at least scores[k-1] - 2 bound here; stop once the copy ranked them all.
            floor = scores[k - 1] - 2 * bound
            if fetch == n or scores[-1] < floor:
                break
            fetch = min(n, 4 * fetch)
        kept = np.sort(positions[scores >= floor])  # in position order, as the flat scan meets them
        rows = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)[kept]
        deep = min(len(kept), k + 1)  # one more than asked: is the k-th score shared by a book left out?
        found_scores = np.empty(deep, dtype=np.float32)
        found = np.empty(deep, dtype=np.int64)
        faiss.knn_inner_product(faiss.swig_ptr(query[0]), faiss.swig_ptr(rows), self.dim, 1, len(kept), deep,
                                faiss.swig_ptr(found_scores), faiss.swig_ptr(found))
        if deep > k and found_scores[k] == found_scores[k - 1]:
            # Which of the tied books the flat scan keeps depends on the order its heap met every
            # book, not only these (rare).
            return None
        return found_scores[None, :k], self._labels[kept[found[:k]]][None, :]
