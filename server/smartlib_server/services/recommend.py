"""Recommendation use cases over the serving index: similar books and free-text search."""
from __future__ import annotations

import numpy as np

from smartlib_server.adapters.inference import Inference
from smartlib_server.domain import Approach, Book, BookFilter, Recommendation, RecommendResult
from smartlib_server.embedding import EMBEDDER_ID, normalise
from smartlib_server.errors import BookNotFound, FailedPrecondition, Unavailable
from smartlib_server.services.serving_index import FinetunedModel, ServingIndex, ServingState
from smartlib_server.services.validation import require_id, require_k, require_text
from smartlib_server.text import fold

OVERSAMPLE = 4  # candidates fetched per requested result before filtering and re-ranking


class RecommendService:
    def __init__(self, index: ServingIndex, inference: Inference, max_k: int = 100, max_query_chars: int = 512):
        self.index = index
        self.inference = inference
        self.max_k = max_k
        self.max_query_chars = max_query_chars

    def resolve_approach(
        self, approach: Approach | None, state: ServingState | None = None
    ) -> tuple[Approach, FinetunedModel | None]:
        """The approach that will answer: UNSPECIFIED means FINETUNED when a model is active."""
        finetuned = (state or self.index.state).finetuned
        if approach is None:
            return (Approach.FINETUNED, finetuned) if finetuned else (Approach.BASELINE, None)
        if approach is Approach.FINETUNED and finetuned is None:
            raise FailedPrecondition(
                "APPROACH_FINETUNED needs a trained encoder, and none is active: run `smartlib train` "
                "(or activate a version), or use APPROACH_BASELINE"
            )
        return approach, finetuned if approach is Approach.FINETUNED else None

    def similar_books(self, book_id: str, k: int, approach: Approach | None, filt: BookFilter) -> RecommendResult:
        book_id = require_id(book_id, "book_id")
        k = require_k(k, self.max_k)
        state = self._ready_state()
        approach, finetuned = self.resolve_approach(approach, state)
        book = state.books.get(book_id)
        if book is None:
            canonical = self.index.store.resolve_id(book_id)
            book = state.books.get(canonical) if canonical else None
        if book is None:
            raise BookNotFound(book_id)
        vector_index = finetuned.index if finetuned else state.baseline
        query = vector_index.vector(book.id)
        if query is None:
            raise FailedPrecondition(f"book {book.id!r} has no vector yet; retry in a moment")
        excluded = BookFilter(filt.include_genres, filt.exclude_genres, filt.min_avg_rating, filt.exclude_ids | {book.id})
        items = self._search(state, query, k, excluded, finetuned, lambda cand: similar_reason(book, cand))
        return RecommendResult(tuple(items), approach, self.model_version(approach, finetuned))

    def search_by_text(self, query: str, k: int, approach: Approach | None, filt: BookFilter) -> RecommendResult:
        query = require_text(query, "query", self.max_query_chars)
        k = require_k(k, self.max_k)
        state = self._ready_state()
        approach, finetuned = self.resolve_approach(approach, state)
        raw = self.inference.embed_queries([query])
        vector = normalise(finetuned.encode(raw) if finetuned else raw)[0]
        folded = fold(query)
        items = self._search(state, vector, k, filt, finetuned, lambda cand: text_reason(folded, cand))
        return RecommendResult(tuple(items), approach, self.model_version(approach, finetuned))

    def model_version(self, approach: Approach, finetuned: FinetunedModel | None) -> str:
        model = f"encoder:{finetuned.version}" if finetuned else EMBEDDER_ID
        return f"{approach.value}:{model}@catalog-{self.index.version}"

    def _ready_state(self) -> ServingState:
        """The state this request uses throughout: read once, so a hot swap cannot split it."""
        if not self.index.ready.is_set():
            raise Unavailable("the recommendation index is still loading; retry shortly", retry_after=2.0)
        return self.index.state

    def _search(
        self, state: ServingState, query: np.ndarray, k: int, filt: BookFilter, finetuned: FinetunedModel | None, reason
    ) -> list[Recommendation]:
        vector_index = finetuned.index if finetuned else state.baseline
        books = state.books
        fetch = (k + len(filt.exclude_ids)) * OVERSAMPLE
        while True:
            hits = vector_index.search(query, fetch)[0]
            scored: list[tuple[float, Book]] = []
            for book_id, score in hits:
                book = books.get(book_id)
                if book is not None and filt.accepts(book):
                    if finetuned and finetuned.popularity_weight:
                        score += finetuned.popularity_weight * finetuned.prior(book)
                    scored.append((score, book))
            exhausted = len(hits) < fetch
            if len(scored) >= k * (OVERSAMPLE if finetuned and finetuned.popularity_weight else 1) or exhausted:
                break
            fetch *= 4  # a selective filter: widen the candidate set until enough pass
        scored.sort(key=lambda item: -item[0])
        return [Recommendation(book, float(score), reason(book)) for score, book in scored[:k]]


def similar_reason(query: Book, candidate: Book) -> str:
    if query.series_name and fold(query.series_name) == fold(candidate.series_name):
        return f"same series: {candidate.series_name}"
    shared_authors = [a for a in candidate.authors if a in set(query.authors)]
    if shared_authors:
        return f"same author: {shared_authors[0]}"
    query_genres = {g.lower() for g in query.genres}
    shared = [g for g in candidate.genres if g.lower() in query_genres and g.lower() != "fiction"]
    if shared:
        return "shares genres: " + ", ".join(shared[:3])
    return "similar description and themes"


def text_reason(folded_query: str, candidate: Book) -> str:
    words = set(folded_query.split())
    named = [g for g in candidate.genres if fold(g) in folded_query or set(fold(g).split()) <= words]
    if named:
        return "matches " + ", ".join(named[:3])
    if candidate.main_genre:
        return f"close to your description ({candidate.main_genre})"
    return "close to your description"
