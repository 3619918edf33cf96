"""SimilarBooks candidates ranked by the encoder's reader ranker (smartlib_core.reader_ranking).

The pool is the book's nearest books in the 256-d space, well-loved books on its shelves and its
author's other books; the ranker orders all of them. The result is one ranked row per book,
which SimilarRows keeps until the catalog or the model changes, so a book pays for ranking once.
"""
from __future__ import annotations

import numpy as np

from smartlib_core.reader_ranking import NEAREST, ReaderRanker, SignalTable, candidate_slots
from smartlib_core.tracing import traced
from smartlib_server.services.recommend.vector_index import VectorIndex


@traced("rank")
def reader_row(
    signals: SignalTable, index: VectorIndex, ranker: ReaderRanker, book_id: str
) -> tuple[list[str], list[float]] | None:
    """(ids, scores) of `book_id`'s whole candidate pool, best first; None when the book has
    no vector or no signals yet (a write in flight), so the caller answers the plain way."""
    query = index.vector(book_id)
    if query is None:
        return None
    nearest = dict(index.search(query, NEAREST + 1)[0])
    with signals.lock:
        slot = signals.slot(book_id)
        if slot is None:
            return None
        near_slots = [s for s in map(signals.slot, nearest) if s is not None]
        pool = candidate_slots(signals, slot, np.asarray(near_slots, dtype=np.int64))
        ids = signals.ids(pool.tolist())
        similarity = np.array([nearest.get(i, np.nan) for i in ids], dtype=np.float32)
        outside = np.flatnonzero(np.isnan(similarity))  # shelf-mates and author books beyond the nearest
        if len(outside):
            similarity[outside] = index.vectors([ids[i] for i in outside.tolist()]) @ query
        features = signals.features(slot, pool, similarity)
    scores = ranker.score(features)
    order = np.argsort(-scores, kind="stable")
    return [ids[i] for i in order.tolist()], scores[order].tolist()
