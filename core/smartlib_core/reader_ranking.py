"""The reader ranker: re-orders a book's candidates the way readers' "readers also enjoyed" lists do.

What real co-reading lists reward (measured on the behavioural dev file, README "Books like this
one"): content similarity, the genre shelves the two books share (weighted by shelf order),
popularity, and above all books about as popular as the query book. What they rarely hold: the
same author. A linear model over those signals, trained listwise on the dev file, generalised
across folds of query books; a small MLP did not (it fit the folds it saw and lost on the rest).

Candidates come from three places, because the nearest books in any one embedding space hold
only about half of what readers pair: the nearest books in the serving space, well-loved books
that share the query's shelves, and the query author's other books.

`SignalTable` keeps the per-book signals the features need, in arrays addressed by slot and
kept current under upserts and deletes. Its methods do not lock: a caller that reads while
another thread writes holds `table.lock` around the whole read (a slot can move on a delete).
"""
from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.linear_score import LinearScore
from smartlib_core.packed_text import joined, split
from smartlib_core.text import fold
from smartlib_core.top_n import top_n

FEATURES = (
    "similarity",  # cosine in the serving space
    "genre_profile",  # cosine of shelf-order-weighted genre vectors
    "genre_jaccard",
    "same_main_genre",
    "query_main_genre_shared",  # the query's main shelf is among the candidate's shelves
    "top3_shared",  # how many of the query's first three shelves are among the candidate's first three
    "same_author",
    "same_series",
    "log_ratings",  # log10 Num_Ratings, 0 when unknown
    "has_ratings",
    "log_list_position",  # log10(position + 1), 0 when unknown
    "has_list_position",
    "rating_vs_4",  # Avg_Rating - 4, 0 when unknown
    "popularity_gap",  # |log list position difference|, 0 when either is unknown
    "ratings_gap",  # |log rating count difference|, 0 when either is unknown
)
# Left out on purpose: whether a book has a description. In the 10k catalog only the first
# 3,268 rows have one, so the flag is a proxy for list position, and dropping it cost nothing
# across folds (0.371 without, 0.371 with).

# Candidate pool sizes: nearest in the serving space, then shelf-mates by genre and popularity.
NEAREST = 300
SHELF_MATES = 300
SHELF_POPULARITY_WEIGHT = 0.5


def _genre_weights(genres: Sequence[str]) -> dict[str, float]:
    """Shelf-order weights 1/sqrt(position): readers file a book under its first shelves most."""
    weights: dict[str, float] = {}
    for position, genre in enumerate(genres):
        weights.setdefault(genre, 1.0 / math.sqrt(position + 1))
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {g: w / norm for g, w in weights.items()}


class SignalTable:
    """Per-book signals in slot-addressed arrays; a removed slot is refilled by the last one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._slot: dict[str, int] = {}
        self._ids: list[str] = []
        self._genre_column: dict[str, int] = {}
        self._author_slots: dict[str, set[int]] = {}
        self._authors: list[str] = []
        self._series: list[str] = []
        cap = 0
        self._scalars = np.zeros((cap, 5), dtype=np.float32)  # log ratings, has, log position, has, rating - 4
        self._profile = np.zeros((cap, 0), dtype=np.float32)  # shelf-order genre vectors, unit length
        self._main = np.zeros(cap, dtype=np.int64)  # main genre column, -1 without one
        self._genre_count = np.zeros(cap, dtype=np.int64)
        self._top3 = np.full((cap, 3), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, book_id: str) -> bool:
        return book_id in self._slot

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._scalars, self._profile, self._main, self._genre_count, self._top3))

    def slot(self, book_id: str) -> int | None:
        return self._slot.get(book_id)

    def ids(self, slots: Iterable[int]) -> list[str]:
        return [self._ids[s] for s in slots]

    # -- writes ----------------------------------------------------------------------------
    def upsert(self, books: Iterable[Book]) -> None:
        books = list(books)
        # Room for every new book at once: growing by doubling copied the wide genre-profile
        # table again at each step of a whole-catalog load.
        self._grow_rows(len(self._ids) + len({b.id for b in books} - self._slot.keys()))
        for book in books:
            slot = self._slot.get(book.id)
            if slot is None:
                slot = len(self._ids)
                self._grow_rows(slot + 1)
                self._slot[book.id] = slot
                self._ids.append(book.id)
                self._authors.append("")
                self._series.append("")
            else:
                self._forget_author(slot)
            self._fill(slot, book)

    def remove(self, book_ids: Iterable[str]) -> None:
        for book_id in book_ids:
            slot = self._slot.pop(book_id, None)
            if slot is None:
                continue
            self._forget_author(slot)
            last = len(self._ids) - 1
            if slot != last:  # move the last book into the hole
                moved = self._ids[last]
                self._forget_author(last)
                self._ids[slot], self._authors[slot], self._series[slot] = moved, self._authors[last], self._series[last]
                self._scalars[slot], self._profile[slot] = self._scalars[last], self._profile[last]
                self._main[slot], self._top3[slot] = self._main[last], self._top3[last]
                self._genre_count[slot] = self._genre_count[last]
                self._slot[moved] = slot
                self._remember_author(slot)
            self._ids.pop()
            self._authors.pop()
            self._series.pop()
            self._profile[last] = 0.0

    def _fill(self, slot: int, book: Book) -> None:
        weights = _genre_weights(book.genres)
        for genre in weights:
            if genre not in self._genre_column:
                self._genre_column[genre] = len(self._genre_column)
        self._grow_columns(len(self._genre_column))
        self._profile[slot] = 0.0
        for genre, weight in weights.items():
            self._profile[slot, self._genre_column[genre]] = weight
        columns = [self._genre_column[g] for g in dict.fromkeys(book.genres)]
        self._main[slot] = columns[0] if columns else -1
        self._genre_count[slot] = len(weights)
        self._top3[slot] = (columns[:3] + [-1, -1, -1])[:3]
        has_ratings = book.num_ratings > 0
        has_position = book.list_rank >= 0
        self._scalars[slot] = (
            math.log10(book.num_ratings) if has_ratings else 0.0, has_ratings,
            math.log10(book.list_rank + 1) if has_position else 0.0, has_position,
            book.avg_rating - 4.0 if book.avg_rating > 0 else 0.0,
        )
        self._authors[slot] = fold(book.authors[0]) if book.authors else ""
        self._series[slot] = book.series_key
        self._remember_author(slot)

    def _remember_author(self, slot: int) -> None:
        if self._authors[slot]:
            self._author_slots.setdefault(self._authors[slot], set()).add(slot)

    def _forget_author(self, slot: int) -> None:
        mates = self._author_slots.get(self._authors[slot])
        if mates is not None:
            mates.discard(slot)
            if not mates:
                del self._author_slots[self._authors[slot]]

    def _grow_rows(self, needed: int) -> None:
        if needed <= len(self._scalars):
            return
        cap = max(needed, 2 * len(self._scalars), 64)
        self._scalars = _resized(self._scalars, (cap, self._scalars.shape[1]), 0.0)
        self._profile = _resized(self._profile, (cap, self._profile.shape[1]), 0.0)
        self._main = _resized(self._main, (cap,), -1)
        self._genre_count = _resized(self._genre_count, (cap,), 0)
        self._top3 = _resized(self._top3, (cap, 3), -1)

    def _grow_columns(self, needed: int) -> None:
        if needed <= self._profile.shape[1]:
            return
        cols = max(needed, 2 * self._profile.shape[1], 64)
        self._profile = _resized(self._profile, (len(self._profile), cols), 0.0)

    # -- stored copies ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, np.ndarray]:
        """The table as flat arrays (what `restore` takes): filling it from 10k books costs
        about 0.25 s of a start's CPU, restoring it a few milliseconds."""
        n, columns = len(self._ids), len(self._genre_column)
        return {
            "ids": joined(self._ids), "authors": joined(self._authors), "series": joined(self._series),
            "genres": joined(list(self._genre_column)),  # in column order: columns were handed out in insertion order
            "scalars": self._scalars[:n], "profile": self._profile[:n, :columns], "main": self._main[:n],
            "genre_count": self._genre_count[:n], "top3": self._top3[:n],
        }

    @classmethod
    def restore(cls, arrays: Mapping[str, np.ndarray]) -> "SignalTable":
        """The table `snapshot` described; ValueError when the arrays do not hold together."""
        table = cls()
        ids, authors, series, genres = (split(arrays[name]) for name in ("ids", "authors", "series", "genres"))
        n, columns = len(ids), len(genres)
        shapes = {"scalars": (n, 5), "profile": (n, columns), "main": (n,), "genre_count": (n,), "top3": (n, 3)}
        if any(np.shape(arrays[name]) != shape for name, shape in shapes.items()):
            raise ValueError("stored signal arrays of inconsistent shapes")
        if len(authors) != n or len(series) != n or len(set(ids)) != n or len(set(genres)) != columns:
            raise ValueError("stored signal ids, authors or series do not match")
        top3, main = np.asarray(arrays["top3"], dtype=np.int64), np.asarray(arrays["main"], dtype=np.int64)
        if n and (min(top3.min(), main.min()) < -1 or max(top3.max(), main.max()) >= columns):
            raise ValueError("a stored signal names a genre column outside the table")
        table._ids, table._authors, table._series = ids, authors, series
        table._slot = {book_id: slot for slot, book_id in enumerate(ids)}
        table._genre_column = {genre: column for column, genre in enumerate(genres)}
        table._scalars = np.array(arrays["scalars"], dtype=np.float32)
        table._profile = np.array(arrays["profile"], dtype=np.float32)
        table._main, table._top3 = main.copy(), top3.copy()
        table._genre_count = np.array(arrays["genre_count"], dtype=np.int64)
        for slot in range(n):
            table._remember_author(slot)
        return table

    # -- reads -----------------------------------------------------------------------------
    def shelf_mates(self, slot: int, n: int = SHELF_MATES, popularity_weight: float = SHELF_POPULARITY_WEIGHT) -> np.ndarray:
        """Slots of the `n` books that best share `slot`'s shelves, nudged towards popular books."""
        count = len(self._ids)
        if count <= 1:
            return np.zeros(0, dtype=np.int64)
        scalars = self._scalars[:count]
        columns = np.flatnonzero(self._profile[slot])  # only the query's shelves can score
        score = self._profile[:count, columns] @ self._profile[slot, columns]
        score += popularity_weight * (scalars[:, 0] / 7.0 - scalars[:, 2] / 4.0)
        return top_n(score, n, exclude=slot, ordered=False)

    def author_mates(self, slot: int) -> np.ndarray:
        mates = self._author_slots.get(self._authors[slot], ())
        return np.array(sorted(m for m in mates if m != slot), dtype=np.int64)

    def features(self, slot: int, candidates: np.ndarray, similarity: np.ndarray) -> np.ndarray:
        """(n, len(FEATURES)) float32 for query `slot` against candidate slots."""
        c = np.asarray(candidates, dtype=np.int64)
        columns = np.flatnonzero(self._profile[slot])  # the query's shelves: all that overlap can touch
        q_profile, profile = self._profile[slot, columns], self._profile[np.ix_(c, columns)]
        shared = (profile > 0).sum(axis=1)
        union = self._genre_count[c] + len(columns) - shared
        q_main = self._main[slot]
        q_top3 = self._top3[slot][self._top3[slot] >= 0]
        top3 = np.isin(self._top3[c], q_top3) & (self._top3[c] >= 0)
        author, series = self._authors[slot], self._series[slot]
        same_author = np.array([bool(author) and self._authors[s] == author for s in c.tolist()])
        same_series = np.array([bool(series) and self._series[s] == series for s in c.tolist()])
        q_s, s = self._scalars[slot], self._scalars[c]
        columns = (
            similarity,
            profile @ q_profile,
            np.where(union > 0, shared / np.maximum(union, 1), 0.0),
            (self._main[c] == q_main) & (q_main >= 0),
            self._profile[c, q_main] > 0 if q_main >= 0 else np.zeros(len(c)),
            top3.sum(axis=1),
            same_author,
            same_series,
            s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4],
            np.where((s[:, 3] > 0) & (q_s[3] > 0), np.abs(s[:, 2] - q_s[2]), 0.0),
            np.where((s[:, 1] > 0) & (q_s[1] > 0), np.abs(s[:, 0] - q_s[0]), 0.0),
        )
        return np.column_stack([np.asarray(col, dtype=np.float32) for col in columns])


def _resized(array: np.ndarray, shape: tuple[int, ...], fill) -> np.ndarray:
    bigger = np.full(shape, fill, dtype=array.dtype)
    bigger[tuple(slice(0, n) for n in array.shape)] = array
    return bigger


@dataclasses.dataclass(frozen=True)
class ReaderRanker(LinearScore):
    """A linear score over standardised FEATURES: w . (x - mean) / scale."""

    FEATURES = FEATURES
    NAME = "reader ranker"


def candidate_slots(table: SignalTable, slot: int, nearest: np.ndarray) -> np.ndarray:
    """The pool to rank: `nearest` (slots from the serving space) + shelf-mates + the author's books."""
    pool = np.concatenate([np.asarray(nearest, dtype=np.int64), table.shelf_mates(slot), table.author_mates(slot)])
    pool = np.unique(pool)
    return pool[pool != slot]


# What `smartlib train` stores when it has no behaviour file to fit on (a catalog other than the
# 10k, a machine without shared data): the ranker fit on the 147 queries of the Goodreads dev file
# over the 10k catalog and the encoder `smartlib train` produced on 2026-12-04. Only its
# similarity weight is tied to that encoder's space; the rest are catalog signals.
DEFAULT_RANKER = ReaderRanker(
    mean=(0.567048, 0.600618, 0.322494, 0.582161, 0.836189, 1.66043, 0.0143268, 0.00120196, 3.80331, 0.729007,
          2.93109, 1, 0.02102, 0.811741, 0.444995),
    scale=(0.0745104, 0.170843, 0.164197, 0.493203, 0.370104, 0.676488, 0.118834, 0.0346484, 2.40543, 0.444472,
           0.774531, 1, 0.203557, 0.624263, 0.583345),
    weights=(0.773488, 0.590097, 0.296953, -0.0618442, -0.0750538, 0.246587, -0.575023, -0.0228033, 1.44687,
             -1.24256, -0.78687, 0, -0.00221219, -0.702132, -0.674361),
    provenance="built-in: fit on goodreads_similar_dev.jsonl (147 queries, 10k catalog), 2026-12-04",
)
