"""The co-reading graph (smartlib_core.co_reading) from readers' lists: the artifact, and its blend scored out of fold.

Serving gets the graph of every list in the behaviour file, written beside the encoder at
`smartlib train`. The evaluation never lets a reader's own list reach the graph it is ranked
with: a reader of fold f is ranked with the graph of the other folds' lists, and the blend's
weights (how much the graph counts, and how fast that grows with its evidence) are chosen on the
other folds' readers, each ranked with a graph and rows that saw neither fold f nor its own
(fold_rows.NestedRows).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Book
from smartlib_core.personal_ranking import DEFAULT_WEIGHTS, PersonalWeights
from smartlib_training.behaviour import BehaviourQuery, load_behaviour, recall_at
from smartlib_training.fold_rows import NestedRows
from smartlib_training.personal_quality import PROTOCOLS, Ranking, Reader, readers

SHARES = (0.3, 0.4, 0.5, 0.6, 0.7)  # the graph's share with plenty of evidence
HALF_EVIDENCE = (0.0, 1.0, 3.0)  # liked books it knows at which it gets half that share
FIT_PROTOCOL = "three books"
MIN_LISTS = 30  # fewer lists of this catalog's books and no graph is written (pipeline.MIN_BEHAVIOUR_QUERIES)


def co_reading_of(books: Sequence[Book], queries: Sequence[BehaviourQuery],
                  keep: Callable[[int], bool] = lambda i: True, provenance: str = "") -> CoReading:
    """The graph of the lists of `queries` whose index `keep` accepts: each list (the query book
    and the books paired with it) is one reader who liked them all."""
    lists = ([books[q.query].id, *(books[r].id for r in q.relevant)] for i, q in enumerate(queries) if keep(i))
    return CoReading.from_lists(lists, provenance)


def co_reading_artifact(books: Sequence[Book], behaviour_path: Path | None) -> CoReading | None:
    """The graph `smartlib train` ships: every list of the file whose books this catalog holds;
    None without the file or with fewer than MIN_LISTS matching lists."""
    if behaviour_path is None or not Path(behaviour_path).is_file():
        return None
    queries = load_behaviour(behaviour_path, books)
    if len(queries) < MIN_LISTS:
        return None
    return co_reading_of(books, queries, provenance=f"{Path(behaviour_path).name} ({len(queries)} lists)")


def blend_grid(base: PersonalWeights = DEFAULT_WEIGHTS) -> list[PersonalWeights]:
    return [dataclasses.replace(base, co_reading=s, co_reading_half_evidence=h) for s in SHARES for h in HALF_EVIDENCE]


def out_of_fold_co_reading(books: Sequence[Book], queries: Sequence[BehaviourQuery],
                           nested: NestedRows) -> tuple[Ranking, list[PersonalWeights]]:
    """The co-reading blend's out-of-fold ranking of any reader of `queries`, and the weights each
    fold chose (on three-book readers of the other folds)."""
    row_of = {b.id: i for i, b in enumerate(books)}
    series_of = {b.id: b.series_key for b in books if b.series_key}
    fold_of = nested.fold_of
    graphs: dict[frozenset[int], CoReading] = {}

    def graph(held: frozenset[int]) -> CoReading:
        if held not in graphs:
            graphs[held] = co_reading_of(books, queries, lambda i: fold_of[i] not in held)
        return graphs[held]

    fit_readers = readers(queries, PROTOCOLS[FIT_PROTOCOL])
    chosen = []
    for f in range(nested.folds):
        train = [r for r in fit_readers if fold_of[r.query] != f]

        def recall(weights: PersonalWeights, f=f, train=train) -> float:
            return float(np.mean([recall_at(nested.train(f, fold_of[r.query]).rank(
                r, series_of, row_of, weights, co_reading=graph(frozenset((f, fold_of[r.query])))), r.target)
                for r in train]))
        chosen.append(max(blend_grid(), key=recall))

    def rank(reader: Reader) -> list[int]:
        f = fold_of[reader.query]
        return nested.test(f).rank(reader, series_of, row_of, chosen[f], co_reading=graph(frozenset((f,))))

    return rank, chosen
