"""What readers see, measured: behavioural recall, known-item search and broad genre picks.

Each measure runs the ranking the server runs (smartlib_core.reader_ranking for SimilarBooks,
smartlib_core.text_ranking for SearchByText) over the whole catalog, beside BASELINE's cosine.
When the reader ranker was fit on the behaviour file itself, its figures come from 5-fold
cross-validation over query books: every query is ranked by a ranker that never saw it.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from smartlib_core.domain import Book, BookFilter
from smartlib_core.lexical import LexicalIndex
from smartlib_core.popularity import popularity_priors
from smartlib_core.reader_ranking import ReaderRanker, SignalTable
from smartlib_core.text_ranking import ShelfIndex, rank_text
from smartlib_core.top_n import top_n
from smartlib_training.behaviour import BehaviourQuery, Estimate, K, estimate, score_rankings
from smartlib_training.reader_fit import Example, Space, examples, fold_rankers, out_of_fold, signal_table

KNOWN_ITEM_QUERIES = 300
KNOWN_ITEM_WORDS = 25
GENRE_PICKS = 20
DEPTH = 2  # rows ranked past K: the books a reader gave besides the query
PRIOR_WEIGHT = 0.05  # the FINETUNED space's served prior before the reader ranker

TextEncoder = Callable[[Sequence[str]], np.ndarray]  # texts -> (n, 2688) unit query vectors


@dataclasses.dataclass(frozen=True)
class ReaderRuns:
    """The reader ranker as the behaviour report ran it, for the personal report to reuse."""

    table: SignalTable
    space: Space  # the serving (256-d) space
    rankers: list[tuple[np.ndarray, ReaderRanker]]  # (query indices it scores, ranker), one per fold
    similar: list[list[int]]  # per query, its top K + DEPTH rows
    pool: Sequence[Example] = ()  # per query, its candidates and labels: more rankers can be fit on them


def behaviour_report(
    books: Sequence[Book], raw_unit: np.ndarray, encoded: np.ndarray, queries: Sequence[BehaviourQuery],
    ranker: ReaderRanker, ranker_saw_queries: bool,
) -> tuple[dict[str, dict[str, Estimate]], ReaderRuns]:
    """Metrics with intervals per ranking variant over the behaviour queries, and what the reader
    ranker did: its rankers per fold and rows per query (scored again by personal_quality)."""
    raw, learned = Space(raw_unit), Space(encoded)
    priors = popularity_priors(np.array([b.list_rank for b in books]), np.array([b.num_ratings for b in books]))

    def by_cosine(space: Space, weight: float) -> list[list[int]]:
        out = []
        for q in queries:
            sims = space.similarities(q.query) + weight * priors
            out.append(top_n(sims, K, exclude=q.query).tolist())
        return out

    table = signal_table(books)
    pool = examples(table, learned, queries)
    if ranker_saw_queries:
        rankers, label = fold_rankers(pool), "FINETUNED + reader ranker (5-fold, out of fold)"
    else:
        rankers, label = [(np.arange(len(pool)), ranker)], "FINETUNED + reader ranker"
    reader = out_of_fold(pool, K + DEPTH, rankers)
    return {
        "BASELINE (2688-d cosine)": score_rankings(by_cosine(raw, 0.0), queries),
        "BASELINE + popularity prior 0.05": score_rankings(by_cosine(raw, PRIOR_WEIGHT), queries),
        "FINETUNED 256-d cosine + prior (before the ranker)": score_rankings(by_cosine(learned, PRIOR_WEIGHT), queries),
        label: score_rankings(reader, queries),
        "candidate pool recall (ceiling of any re-ranking)": {"recall": estimate(
            [float(e.labels.sum()) / len(q.relevant) for e, q in zip(pool, queries, strict=True)])},
    }, ReaderRuns(table, learned, rankers, reader, pool)


def first_sentence(description: str, words: int = KNOWN_ITEM_WORDS) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", description.strip(), maxsplit=1)[0]
    return " ".join(sentence.split()[:words])


@dataclasses.dataclass(frozen=True)
class TextCatalog:
    """The catalog as text search sees it: ids, unit 2688-d rows, the ShelfIndex and the lexical index."""

    books: dict[str, Book]
    ids: list[str]
    raw_unit: np.ndarray
    shelves: ShelfIndex
    rows: dict[str, int]
    lexical: LexicalIndex

    @classmethod
    def build(cls, books: Sequence[Book], raw_unit: np.ndarray) -> "TextCatalog":
        by_id = {b.id: b for b in books}
        ids = [b.id for b in books]
        lexical = LexicalIndex()
        lexical.upsert(books)
        return cls(by_id, ids, raw_unit, ShelfIndex(by_id), {book_id: row for row, book_id in enumerate(ids)}, lexical)

    def cosine_top(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        sims = self.raw_unit @ vector
        top = top_n(sims, n)
        return [(self.ids[i], float(sims[i])) for i in top.tolist()]

    def default(self, query: str, vector: np.ndarray, k: int = K, filt: BookFilter = BookFilter(), words: bool = True) -> list[str]:
        """What SearchByText answers under the default approach; `words=False` leaves the
        lexical index out (the ranking before issue 26)."""
        return [hit.id for hit in rank_text(
            self.shelves, self.books, query, k, filt,
            similarity_of=lambda ids: self.raw_unit[[self.rows[i] for i in ids]] @ vector if ids else np.zeros(0),
            search=lambda n: self.cosine_top(vector, n),
            lexical=(lambda n: self.lexical.search(query, n)) if words else None,
        )]

    def baseline(self, vector: np.ndarray, k: int = K) -> list[str]:
        return [i for i, _ in self.cosine_top(vector, k)]


def known_item_queries(books: Sequence[Book], count: int = KNOWN_ITEM_QUERIES, seed: int = 0) -> list[tuple[str, str]]:
    """The known-item asks: (book id, the first sentence of its description) for `count` books
    with a description, drawn with `seed` in the order given (bench/lexical_options.py asks the same)."""
    with_text = [b for b in books if b.description.strip()]
    if not with_text:
        return []
    rng = np.random.default_rng(seed)
    picked = [with_text[i] for i in rng.choice(len(with_text), min(count, len(with_text)), replace=False)]
    return [(b.id, first_sentence(b.description)) for b in picked]


def known_item_report(catalog: TextCatalog, encode: TextEncoder, count: int = KNOWN_ITEM_QUERIES, seed: int = 0) -> dict[str, Estimate]:
    """hit@10 of finding a book from the first sentence (<= 25 words) of its own description."""
    asks = known_item_queries([catalog.books[i] for i in catalog.ids], count, seed)
    if not asks:
        return {}
    picked, texts = [i for i, _ in asks], [t for _, t in asks]
    vectors = encode(texts)
    hits = {"BASELINE": [], "default without the lexical index": [], "default (FINETUNED)": []}
    for book_id, text, vector in zip(picked, texts, vectors, strict=True):
        hits["BASELINE"].append(float(book_id in catalog.baseline(vector)))
        hits["default without the lexical index"].append(float(book_id in catalog.default(text, vector, words=False)))
        hits["default (FINETUNED)"].append(float(book_id in catalog.default(text, vector)))
    return {name: estimate(values) for name, values in hits.items()}


def genre_pick_report(catalog: TextCatalog, encode: TextEncoder, count: int = GENRE_PICKS) -> dict[str, dict[str, float]]:
    """For "recommend <genre> books" over the most common main genres: the median Num_Ratings of
    what comes back, the share carrying the genre, and the by-popularity reference."""
    main = Counter(b.main_genre for b in catalog.books.values() if b.main_genre)
    genres = [g for g, _ in main.most_common(count)]
    if not genres:
        return {}
    texts = [f"recommend {g.lower()} books" for g in genres]
    vectors = encode(texts)
    out: dict[str, dict[str, float]] = {}
    for name, pick in (("BASELINE", lambda t, v: catalog.baseline(v)), ("default (FINETUNED)", catalog.default)):
        ratings, carrying = [], []
        for genre, text, vector in zip(genres, texts, vectors, strict=True):
            for book_id in pick(text, vector):
                ratings.append(catalog.books[book_id].num_ratings)
                carrying.append(genre in catalog.books[book_id].genres)
        out[name] = {"median_num_ratings": float(np.median(ratings)), "genre_share": float(np.mean(carrying))}
    reference = [n for g in genres for n in sorted(
        (b.num_ratings for b in catalog.books.values() if g in b.genres), reverse=True)[:K]]
    out["top 10 by Num_Ratings (reference)"] = {"median_num_ratings": float(np.median(reference)), "genre_share": 1.0}
    return out
