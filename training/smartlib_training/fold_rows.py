"""Reader-ranked rows of catalog books under one fold's reader ranker, and a fresh reader ranked over them.

The personal reports (personal_fit, fusion_fit) rank each dev reader with the rows of a ranker
that never saw the reader's list; this keeps one such ranker's rows, built on first use.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.personal_fusion import FusionModel
from smartlib_core.personal_ranking import DEFAULT_WEIGHTS, ROW_DEPTH, PersonalWeights, Row, personal_ranking
from smartlib_core.reader_ranking import ReaderRanker, candidate_slots
from smartlib_training.behaviour import K
from smartlib_training.personal_quality import Reader
from smartlib_training.quality import ReaderRuns


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
             weights: PersonalWeights = DEFAULT_WEIGHTS, fusion: FusionModel | None = None) -> list[int]:
        """The reader's top K catalog rows as the server's personal ranking gives them (own books out)."""
        rows = [self.row(g) for g in reader.given]
        seen = frozenset(self.books[g].id for g in reader.given)
        picks = personal_ranking(rows, K, weights, accepts=lambda b: b not in seen,
                                 series_of=lambda b: series_of.get(b, ""), fusion=fusion)
        return [row_of[p.book] for p in picks]
