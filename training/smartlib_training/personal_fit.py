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
from smartlib_core.personal_ranking import PersonalWeights
from smartlib_training.behaviour import BehaviourQuery, recall_at
from smartlib_training.co_reading_fit import out_of_fold_co_reading
from smartlib_training.fold_rows import FoldRows, NestedRows
from smartlib_training.fusion_fit import out_of_fold_fusion
from smartlib_training.personal_quality import (
    BLEND,
    CO_READING,
    FUSION,
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
            return float(np.mean([recall_at(rows.rank(r, series_of, row_of, weights), r.target) for r in train]))
        chosen.append(max(TEMPERATURES, key=recall))

    def rank(reader: Reader) -> list[int]:
        f = fold_of[reader.query]
        return sources[f].rank(reader, series_of, row_of, PersonalWeights(temperature=chosen[f]))

    return rank, chosen


def personal_quality(books: Sequence[Book], queries: Sequence[BehaviourQuery], runs: ReaderRuns,
                     served: FreshReaders | None = None) -> dict:
    """The personal report: SimilarBooks(Q), the personal ranking out of fold (rows alone, learned
    fusion, rows with the co-reading graph), and the served one."""
    rank, temperatures = out_of_fold_personal(books, queries, runs)
    nested = NestedRows(books, runs, len(queries))
    rankings = {SIMILAR: similar_ranking(runs.similar), PERSONAL: rank}
    rankings[CO_READING], blends = out_of_fold_co_reading(books, queries, nested)
    try:
        rankings[FUSION], _ = out_of_fold_fusion(books, queries, nested)
        fusion_note = "fit per fold on the other folds' three-book readers"
    except ValueError as exc:  # too few readers to learn from: the row is left out, and says why
        fusion_note = f"not fit: {exc}"
    if served is not None:
        rankings[BLEND] = served_ranking(books, served, "blend")
        rankings[SERVED] = served_ranking(books, served)
    report = personal_report(queries, rankings)
    report["temperature per fold"] = temperatures
    report["co-reading share and half-evidence per fold"] = [[w.co_reading, w.co_reading_half_evidence] for w in blends]
    report["learned fusion"] = fusion_note
    return report
