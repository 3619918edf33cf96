"""The n highest scores of an array, by partial sort: the one top-n every ranking site uses.

A full argsort of a 10k-book score row costs far more than argpartition followed by a sort of
the n it keeps, and serving, training, the quality gate and the bench all rank that way, so the
details (clamping n, masking the query's own row, the order of ties) are decided here once.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_n(
    scores: np.ndarray, n: int, exclude: int | Sequence[int] | np.ndarray | None = None, ordered: bool = True,
) -> np.ndarray:
    """Indices of the `n` highest entries of `scores` along its last axis.

    Args:
        scores: a (size,) row, or a (rows, size) batch ranked row by row.
        n: how many to keep; clamped to what is there, so a short row returns all it has.
        exclude: indices never returned: for a row, one index or several; for a batch, one
            index per row (the query's own book in a batch of queries against the catalog).
        ordered: best first, ties by lower index. False skips that sort for callers that only
            need the set (candidate pools, a sparse matrix's kept entries).

    Returns:
        An index array, (m,) for a row or (rows, m) for a batch, m = min(n, eligible entries).
        Which of several entries tied at the cut is kept is unspecified; every kept entry
        scores at least as high as every one left out. `scores` itself is never changed.
    """
    scores = np.asarray(scores)
    batch = scores.ndim == 2
    if scores.ndim not in (1, 2):
        raise ValueError(f"top_n ranks a row or a batch of rows, not a {scores.ndim}-d array")
    size = scores.shape[-1]
    ranked = -scores.astype(np.float64, copy=False) if scores.dtype.kind != "f" else -scores  # negation copies
    if exclude is not None:
        drop = np.asarray(exclude, dtype=np.int64)
        if batch:
            if drop.shape != (scores.shape[0],):
                raise ValueError("a batch excludes exactly one index per row")
            ranked[np.arange(len(drop)), drop] = np.inf
            size -= 1
        else:
            drop = np.unique(drop.reshape(-1))
            ranked[drop] = np.inf
            size -= len(drop)
    n = min(int(n), size)
    if n <= 0:
        return np.zeros((scores.shape[0], 0) if batch else 0, dtype=np.intp)
    top = np.argpartition(ranked, n - 1, axis=-1)[..., :n]
    if not ordered:
        return top
    if not batch:
        return top[np.lexsort((top, ranked[top]))]
    order = np.lexsort((top, np.take_along_axis(ranked, top, axis=-1)), axis=-1)
    return np.take_along_axis(top, order, axis=-1)
