"""Reader-ranked rows of catalog books under one fold's reader ranker, and a fresh reader ranked over them.

The personal reports (personal_fit, fusion_fit) rank each dev reader with the rows of a ranker
that never saw the reader's list; this keeps one such ranker's rows, built on first use.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Book
from smartlib_core.personal_fusion import FusionModel
from smartlib_core.personal_ranking import (
    DEFAULT_WEIGHTS,
    ROW_DEPTH,
    CoReadingEvidence,
    Evidence,
    PersonalWeights,
    Row,
    personal_ranking,
)
from smartlib_core.reader_ranking import ReaderRanker, candidate_slots
from smartlib_training.behaviour import FOLDS, K, folds
from smartlib_training.personal_quality import Reader
from smartlib_training.quality import ReaderRuns
from smartlib_training.reader_fit import fit_ranker


class FoldRows:
    """Reader-ranked rows (book ids and logits, best first) of catalog rows under one ranker."""

    def __init__(self, books: Sequence[Book], runs: ReaderRuns, ranker: ReaderRanker):
        self.books, self.runs, self.ranker = books, runs, ranker
        self._rows: dict[int, tuple[list[str], list[float]]] = {}

    def row(self, r: int, weight: float = 1.0) -> Row:
        found = self._rows.get(r)
        if found is None:
            nearest, sims = self.runs.space.nearest(r)
            pool = candidate_slots(self.runs.table, r, nearest)
            scores = self.ranker.score(self.runs.table.features(r, pool, sims[pool]))
            order = np.argsort(-scores, kind="stable")[:ROW_DEPTH + 1]
            found = self._rows[r] = ([self.books[i].id for i in pool[order].tolist()], scores[order].tolist())
        return Row(self.books[r].id, weight, *found)

    def rank(self, reader: Reader, series_of: dict[str, str], row_of: dict[str, int],
             weights: PersonalWeights = DEFAULT_WEIGHTS, fusion: FusionModel | None = None,
             co_reading: CoReading | None = None) -> list[int]:
        """The reader's top K catalog rows as the server's personal ranking gives them (own books
        out); `co_reading` is the graph the server would hold (built without this reader's list)."""
        rows = [self.row(g) for g in reader.given]
        seen = frozenset(self.books[g].id for g in reader.given)
        evidence = None
        if co_reading is not None:
            evidence = CoReadingEvidence(*co_reading.evidence({r.book: r.weight for r in rows}))
        picks = personal_ranking(rows, K, weights, accepts=lambda b: b not in seen, evidence=Evidence(
            series_of=lambda b: series_of.get(b, ""), fusion=fusion, co_reading=evidence))
        return [row_of[p.book] for p in picks]


class NestedRows:
    """Rows for nested cross-validation over readers, in the reader ranker's folds (by query book).

    A reader of fold f is scored with `test(f)`, the rows of ranker f (fit without fold f's
    lists). Whatever is fit to rank fold f (a fusion, a blend's weights) learns on the other
    folds' readers, each with `train(f, g)`: rows of a ranker fit without fold f and without the
    reader's own fold g, so it learns on rows as unseen as the ones it is scored on. With one
    ranker that never saw the lists, its rows serve every fold and the folds split the readers.
    """

    def __init__(self, books: Sequence[Book], runs: ReaderRuns, queries: int):
        self.books, self.runs = books, runs
        self._pairs: dict[tuple[int, int], FoldRows] = {}
        if len(runs.rankers) > 1:
            self.fold_of = {int(i): f for f, (test, _) in enumerate(runs.rankers) for i in test.tolist()}
            self._tests = [FoldRows(books, runs, ranker) for _, ranker in runs.rankers]
            self.separate = True
        else:
            self.fold_of = {int(i): f for f, test in enumerate(folds(queries, FOLDS)) for i in test.tolist()}
            self._tests = [FoldRows(books, runs, runs.rankers[0][1])] * FOLDS
            self.separate = False

    @property
    def folds(self) -> int:
        return len(self._tests)

    def test(self, f: int) -> FoldRows:
        return self._tests[f]

    def train(self, f: int, g: int) -> FoldRows:
        if not self.separate:
            return self._tests[f]
        key = (min(f, g), max(f, g))
        if key not in self._pairs:
            held = set(key)
            self._pairs[key] = FoldRows(self.books, self.runs, fit_ranker(
                [e for i, e in enumerate(self.runs.pool) if self.fold_of[i] not in held]))
        return self._pairs[key]
