"""The personal ranking (smartlib_core.personal_ranking) on readers' lists, out of fold.

Readers are split by query book into the folds the reader ranker was cross-validated with. A
test fold's readers are ranked with that fold's reader ranker (fit without their lists) and
with the softmax temperature that did best on the other folds' readers: nothing a reader is
scored on was fit on its own list.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.personal_ranking import ROW_DEPTH, PersonalWeights, Row, personal_ranking
from smartlib_core.reader_ranking import ReaderRanker, candidate_slots
from smartlib_training.behaviour import BehaviourQuery, K, recall_at
from smartlib_training.personal_quality import (
    BLEND,
    PERSONAL,
    PROTOCOLS,
    SERVED,
    SIMILAR,
    FreshReaders,
    Ranking,
    Reader,
    personal_report,
    readers,
    served_ranking,
    similar_ranking,
)
from smartlib_training.quality import ReaderRuns

TEMPERATURES = (0.5, 1.0, 2.0, 4.0, 8.0)
FIT_PROTOCOL = "three books"  # with one book every temperature gives the same order


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

    def rank(self, reader: Reader, weights: PersonalWeights, series_of: dict[str, str], row_of: dict[str, int]) -> list[int]:
        rows = [self.row(g) for g in reader.given]
        seen = frozenset(self.books[g].id for g in reader.given)
        picks = personal_ranking(rows, K, weights, accepts=lambda b: b not in seen,
                                 series_of=lambda b: series_of.get(b, ""))
        return [row_of[p.book] for p in picks]


def out_of_fold_personal(
    books: Sequence[Book], queries: Sequence[BehaviourQuery], runs: ReaderRuns,
) -> tuple[Ranking, list[float]]:
    """The out-of-fold personal ranking of any reader of `queries`, and the temperature each fold chose."""
    row_of = {b.id: i for i, b in enumerate(books)}
    series_of = {b.id: b.series_key for b in books if b.series_key}
    fold_of = {int(i): f for f, (test, _) in enumerate(runs.rankers) for i in test.tolist()}
    sources = [FoldRows(books, runs, ranker) for _, ranker in runs.rankers]
    fit_readers = readers(queries, PROTOCOLS[FIT_PROTOCOL])
    chosen: list[float] = []
    for f, rows in enumerate(sources):
        train = [r for r in fit_readers if fold_of[r.query] != f] or fit_readers  # one fold: in sample

        def recall(temperature: float, rows=rows, train=train) -> float:
            weights = PersonalWeights(temperature=temperature)
            return float(np.mean([recall_at(rows.rank(r, weights, series_of, row_of), r.target) for r in train]))
        chosen.append(max(TEMPERATURES, key=recall))

    def rank(reader: Reader) -> list[int]:
        f = fold_of[reader.query]
        return sources[f].rank(reader, PersonalWeights(temperature=chosen[f]), series_of, row_of)

    return rank, chosen


def personal_quality(books: Sequence[Book], queries: Sequence[BehaviourQuery], runs: ReaderRuns,
                     served: FreshReaders | None = None) -> dict:
    """The personal report: SimilarBooks(Q), the personal ranking out of fold, and the served one."""
    rank, temperatures = out_of_fold_personal(books, queries, runs)
    rankings = {SIMILAR: similar_ranking(runs.similar), PERSONAL: rank}
    if served is not None:
        rankings[BLEND] = served_ranking(books, served, "blend")
        rankings[SERVED] = served_ranking(books, served)
    report = personal_report(queries, rankings)
    report["temperature per fold"] = temperatures
    return report
