"""The FINETUNED serving score: cosine in the 256-d space plus a mild popularity prior.

Readers' co-reading lists lean towards popular books, so a small bonus for list position and
rating count helps; a book without any popularity data gets no bonus, which keeps the ranking
purely content-based among such books. The server calls `rerank` on an oversampled candidate
set from the 256-d index; the weight travels in the model manifest.
"""
from __future__ import annotations

import numpy as np

from smartlib_core.popularity import popularity_prior, popularity_priors

DEFAULT_WEIGHT = 0.05
DEFAULT_OVERSAMPLE = 5

__all__ = ["DEFAULT_OVERSAMPLE", "DEFAULT_WEIGHT", "popularity_prior", "popularity_priors", "rerank"]


def rerank(
    scores: np.ndarray, candidates: np.ndarray, priors: np.ndarray, weight: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Re-orders FAISS results by `cosine + weight * prior[candidate]` and keeps the best k.

    Args:
        scores: (q, m) cosine similarities as returned by an inner-product index.
        candidates: (q, m) row ids into `priors`; -1 marks FAISS padding and is dropped last.
        priors: (n,) popularity priors of the indexed rows (`popularity_priors`).
        weight: the prior's weight from the manifest; 0 keeps the cosine order.
        k: how many results to keep per query (at most m).

    Returns:
        (ids, combined scores), both (q, min(k, m)), best first; padding stays -1 / -inf.
    """
    scores = np.asarray(scores, dtype=np.float32)
    candidates = np.asarray(candidates, dtype=np.int64)
    valid = candidates >= 0
    bonus = np.where(valid, priors[np.where(valid, candidates, 0)], 0.0).astype(np.float32)
    combined = np.where(valid, scores + np.float32(weight) * bonus, -np.inf).astype(np.float32)
    keep = min(k, combined.shape[1])
    order = np.argsort(-combined, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(combined, order, axis=1)
