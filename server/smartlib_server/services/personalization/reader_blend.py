"""RecommendForUser on the reader ranker: a user's history turned into smartlib_core.personal_ranking.

The user's liked books are weighted by kind and rating (cf.preference: a like, a read or a
5-star rating 1.0, 4 stars 0.8, 3 stars 0.3, a click 0.3) and by recency (the 20th newest
counts half), and the strongest MAX_SOURCES lend their reader-ranked rows (the ones
SimilarBooks serves, kept per book). The co-reading graph of readers' lists, when the encoder
carries one, adds what readers liked together. Disliked and dismissed books lend theirs as near
twins to push down. A user with no liked book gets None: the caller answers with the popularity path.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Book, BookFilter, Recommendation
from smartlib_core.personal_ranking import (
    DEFAULT_WEIGHTS,
    CoReadingEvidence,
    Evidence,
    Ordered,
    PersonalWeights,
    Row,
    order_candidates,
    pick,
)
from smartlib_server.domain.personalization import Interaction, InteractionKind
from smartlib_server.services.personalization.cf import CFModel, fold_preferences, preference
from smartlib_server.services.personalization.profile import RECENCY_HALF_LIFE
from smartlib_server.services.personalization.reasons import INTERESTED, title, verbs

SEEN_KINDS = frozenset({InteractionKind.READ, InteractionKind.LIKE, InteractionKind.RATE,
                        InteractionKind.DISLIKE, InteractionKind.DISMISS})  # never recommended back
MAX_SOURCES = 20  # liked books whose rows are merged: each is a kept row, or one ranking on first use
MAX_DISLIKED = 10
# A book's reader-ranked row: (candidate ids, reader-ranker logits), best first; None when the
# book has none (no active ranker, no vector yet).
Pools = Callable[[str], tuple[Sequence[str], Sequence[float]] | None]


@dataclasses.dataclass(frozen=True)
class Kept:
    """A user's ordering and what its picks' reasons read, kept between calls while its inputs stay."""

    ordered: Ordered
    # CF-carried candidate -> the liked book its reason names (CFModel.anchors), filled as picks need them
    anchors: dict[str, str | None] = dataclasses.field(default_factory=dict)


# (the history's inputs to the ordering, the ordering) -> the ordering, kept or computed now
Memo = Callable[[Hashable, Callable[[], Kept | None]], Kept | None]


def liked_and_disliked(history: Sequence[Interaction]) -> tuple[dict[str, float], list[str]]:
    """Liked book -> weight (preference x recency), and the books whose last word was a dislike,
    a dismissal or a rating of 1 or 2, newest first."""
    prefs = fold_preferences(history)
    newest_first = list(dict.fromkeys(e.book_id for e in reversed(history)))
    rank = {b: i for i, b in enumerate(newest_first)}
    liked = {b: w * 0.5 ** (rank[b] / RECENCY_HALF_LIFE) for b, w in prefs.items()}
    last: dict[str, float] = {}
    for event in history:
        value = preference(event.kind, event.rating)
        if value is not None:
            last[event.book_id] = value
    disliked = [b for b in newest_first if last.get(b) == 0.0]
    return liked, disliked


@dataclasses.dataclass(frozen=True)
class Folded:
    """Everything the reader ranking reads of a history (`fold`), so a call folds it once, and a
    kept history (adapters/history_cache.py) once per change (RankingCache.folded)."""

    liked: dict[str, float]  # liked_and_disliked
    disliked: list[str]
    seen: frozenset[str]  # the user's own books (SEEN_KINDS): never recommended back
    did: dict[str, str]  # reasons.verbs
    inputs: Hashable  # what the ordering reads of them: the kept ordering's key


def fold(history: Sequence[Interaction]) -> Folded:
    liked, disliked = liked_and_disliked(history)
    return Folded(liked, disliked, frozenset(e.book_id for e in history if e.kind in SEEN_KINDS), verbs(history),
                  (tuple(liked.items()), tuple(disliked[:MAX_DISLIKED])))


class SeriesTable(dict):
    """Book id -> series key, "" for a standalone or an id it does not hold: for a whole catalog,
    so the series of a pick is one dict lookup in C; `members` is its inverse."""

    _members: dict[str, list[str]] | None = None

    def __missing__(self, book_id: str) -> str:
        return ""

    def members(self, series: str) -> list[str]:
        """The books of `series` (built once per table, on first use; the table is never changed)."""
        if self._members is None:
            inverse: dict[str, list[str]] = {}
            for book_id, key in self.items():
                if key:
                    inverse.setdefault(key, []).append(book_id)
            self._members = inverse
        return self._members.get(series, [])


def series_table(books: Mapping[str, Book]) -> SeriesTable:
    # dict(books): one copy in C, so a catalog write meanwhile cannot change it under the loop
    return SeriesTable((book_id, book.series_key) for book_id, book in dict(books).items())


def rank_on_readers(
    folded: Folded, k: int, filt: BookFilter, books: Mapping[str, Book], pools: Pools, model: CFModel,
    weights: PersonalWeights = DEFAULT_WEIGHTS, co_reading: CoReading | None = None, memo: Memo | None = None,
    series: SeriesTable | None = None,
) -> list[Recommendation] | None:
    """The user's top k (fewer when the filter leaves fewer among the candidates), or None when
    no liked book has a row: the caller then falls back to the popularity path.

    `folded`: the user's history, folded (`fold`).
    `memo(inputs, compute)` may return a kept result of `compute` for the same `inputs`
    (`folded.inputs`: the liked books with their weights and the disliked ones, everything of the
    history that the ordering reads); the caller's key adds what else it reads (catalog, encoder,
    CF versions). `series`: series_table(books), kept by the caller while the catalog stays; None
    builds one."""
    liked, disliked = folded.liked, folded.disliked
    table = series if series is not None else series_table(books)
    series_of = table.__getitem__

    def order() -> Kept | None:
        strongest = sorted(liked.items(), key=lambda item: (-item[1], item[0]))[:MAX_SOURCES]
        rows = [Row(b, w, *pool) for b, w in strongest if (pool := pools(b)) is not None]
        if not rows:
            return None
        negative = [Row(b, 1.0, *pool) for b in disliked[:MAX_DISLIKED] if (pool := pools(b)) is not None]
        cf = model.scores(liked) if len(model) else {}
        known = sum(1 for b in liked if b in model.columns)
        co_evidence = CoReadingEvidence(*co_reading.evidence(dict(strongest))) if co_reading is not None else None
        return Kept(order_candidates(rows, weights, Evidence(cf, known, negative, series_of, table.members,
                                                         co_reading=co_evidence)))

    kept = order() if memo is None else memo(folded.inputs, order)
    if kept is None:
        return None
    seen = folded.seen

    def accepts(book_id: str) -> bool:
        book = books.get(book_id)
        return book is not None and book_id not in seen and book_id not in filt.exclude_ids and filt.accepts(book)

    picks = pick(kept.ordered, k, accepts, series_of, weights)
    anchors = kept.anchors
    if need := [p.book for p in picks if p.via_cf and p.book not in anchors]:  # once per candidate while kept
        anchors.update(zip(need, model.anchors(need, liked), strict=True))
    return [Recommendation(books[p.book], float(p.score), _reason(p, books, folded.did, anchors, liked)) for p in picks]


def _reason(pick, books: Mapping[str, Book], did: Mapping[str, str], anchors: Mapping[str, str | None], liked) -> str:
    if pick.via_co_reading and pick.source in books:
        return f"readers who liked {title(books[pick.source])} also liked {title(books[pick.book])}"
    if pick.via_cf:
        anchor = anchors[pick.book]
        if anchor is not None and anchor in books:
            return f"readers of {title(books[anchor])} also read {title(books[pick.book])}"
    source = pick.source if pick.source in books else next(iter(liked))
    return f"because you {did.get(source, INTERESTED)} {title(books.get(source))}"
