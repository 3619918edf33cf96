"""Content profile: what a user's liked and read books look like in the vector space.

A single centroid blurs a reader of both fantasy and history into neither, so the profile is
the centroid plus the user's strongest recent books as separate anchors. A candidate scores the
preference-weighted sum of its similarity to each anchor it is a neighbour of; the anchor that
contributes most is the one named in "because you liked ...".
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from smartlib_server.services.recommend.vector_index import VectorIndex

MAX_ANCHORS = 10  # searches per request; each is a full scan of the flat index
RECENCY_HALF_LIFE = 20  # books: the 20th most recent counts half as much as the newest
CENTROID = ""  # anchor id of the centroid query


@dataclasses.dataclass(frozen=True)
class ContentProfile:
    anchors: tuple[tuple[str, float], ...]  # (book id or CENTROID, weight), strongest first
    queries: np.ndarray  # one unit vector per anchor, same order

    @property
    def empty(self) -> bool:
        return not self.anchors


def build_profile(
    prefs: Mapping[str, float],
    recency: Sequence[str],
    vector_of: Callable[[str], np.ndarray | None],
    max_anchors: int = MAX_ANCHORS,
) -> ContentProfile:
    """Builds the profile from book -> preference and the books ordered newest first."""
    rank = {book: i for i, book in enumerate(recency)}
    weighted = []
    for book, pref in prefs.items():
        vector = vector_of(book)
        if vector is None:
            continue  # no vector yet (just ingested): the other sources still cover it
        weight = pref * 0.5 ** (rank.get(book, len(recency)) / RECENCY_HALF_LIFE)
        weighted.append((weight, book, np.asarray(vector, dtype=np.float32)))
    if not weighted:
        return ContentProfile((), np.zeros((0, 0), dtype=np.float32))
    weighted.sort(key=lambda item: -item[0])
    centroid = sum(w * v for w, _, v in weighted)
    norm = float(np.linalg.norm(centroid))
    anchors = [(CENTROID, max(w for w, _, _ in weighted))] if norm > 0 and len(weighted) > 1 else []
    queries = [centroid / norm] if anchors else []
    for weight, book, vector in weighted[:max_anchors]:
        anchors.append((book, weight))
        queries.append(vector)
    return ContentProfile(tuple(anchors), np.stack(queries).astype(np.float32))


def content_scores(profile: ContentProfile, index: VectorIndex, per_anchor: int) -> tuple[dict[str, float], dict[str, str]]:
    """Candidate -> score, and candidate -> the user's book that explains it best."""
    if profile.empty:
        return {}, {}
    scores: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    hits = index.search(profile.queries, per_anchor)
    for (anchor, weight), row in zip(profile.anchors, hits, strict=True):
        for book_id, similarity in row:
            if similarity <= 0:
                continue
            contribution = weight * similarity
            scores[book_id] = scores.get(book_id, 0.0) + contribution
            if anchor != CENTROID and contribution > best.get(book_id, (0.0, ""))[0]:
                best[book_id] = (contribution, anchor)
    return scores, {b: anchor for b, (_, anchor) in best.items()}
