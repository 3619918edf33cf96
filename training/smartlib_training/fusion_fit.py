"""The learned fusion of reader rows (smartlib_core.personal_fusion): fit on readers' lists, scored out of fold.

Nested cross-validation over readers (fold_rows.NestedRows): a reader of fold f is ranked with
the rows of ranker f and a fusion fit on the other folds' readers only, on rows of rankers that
saw neither fold f nor their own. The held-out fold never reaches the fusion, and no reader is
ranked by rows fit on its own list.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from smartlib_core.domain import Book
from smartlib_core.personal_fusion import FUSION_FEATURES, FusionModel, fusion_features
from smartlib_core.personal_ranking import ROW_DEPTH, Row, row_probabilities
from smartlib_training.behaviour import BehaviourQuery
from smartlib_training.fold_rows import FoldRows, NestedRows
from smartlib_training.personal_quality import PROTOCOLS, Ranking, Reader, readers

MIN_READERS = 20  # readers with a listed book among their candidates; fewer and the fit refuses
L2 = 1e-2  # on the standardised weights
FIT_PROTOCOL = "three books"  # the readers it learns from: their rows are two or more


def fusion_sample(rows: Sequence[Row], given: set[str], target: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) over the rows' candidates, the reader's own books left out."""
    heads = [(r.ids[:ROW_DEPTH], row_probabilities(r.scores, 1.0)) for r in rows]
    ids, features = fusion_features([r.book for r in rows], [r.weight for r in rows], heads)
    keep = [i for i, b in enumerate(ids) if b not in given]
    return features[keep], np.array([ids[i] in target for i in keep], dtype=np.float64)


def fit_fusion(samples: Sequence[tuple[np.ndarray, np.ndarray]], l2: float = L2, provenance: str = "") -> FusionModel:
    """A linear listwise fusion: per reader, a softmax over its candidates should put its mass on
    the listed ones.

    Raises:
        ValueError: fewer than MIN_READERS readers have a listed book among their candidates.
    """
    usable = [(x, y) for x, y in samples if y.sum() > 0]
    if len(usable) < MIN_READERS:
        raise ValueError(f"{len(usable)} readers have a listed book among their candidates; a fusion needs {MIN_READERS}")
    stacked = np.concatenate([x for x, _ in usable])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)  # a constant feature carries no signal here
    batches = [((x - mean) / scale, y / y.sum()) for x, y in usable]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, target in batches:
            logits = x @ w
            logits -= logits.max()
            log_p = logits - np.log(np.exp(logits).sum())
            total -= float(target @ log_p)
            grad += x.T @ (np.exp(log_p) - target)
        return total / len(batches) + l2 * float(w @ w), grad / len(batches) + 2 * l2 * w

    weights = minimize(loss, np.zeros(len(FUSION_FEATURES)), jac=True, method="L-BFGS-B").x
    return FusionModel(tuple(mean.tolist()), tuple(scale.tolist()), tuple(weights.tolist()), provenance)


def out_of_fold_fusion(books: Sequence[Book], queries: Sequence[BehaviourQuery], nested: NestedRows) -> tuple[Ranking, list[FusionModel]]:
    """The fusion's out-of-fold ranking of any reader of `queries`, and the model each fold fit.

    Raises:
        ValueError: a fold has too few training readers (fit_fusion).
    """
    row_of = {b.id: i for i, b in enumerate(books)}
    series_of = {b.id: b.series_key for b in books if b.series_key}
    fold_of = nested.fold_of
    fit_readers = readers(queries, PROTOCOLS[FIT_PROTOCOL])
    models = []
    for f in range(nested.folds):
        samples = [_sample(books, nested.train(f, fold_of[r.query]), r) for r in fit_readers if fold_of[r.query] != f]
        models.append(fit_fusion(samples, provenance=f"fold {f}"))

    def rank(reader: Reader) -> list[int]:
        f = fold_of[reader.query]
        return nested.test(f).rank(reader, series_of, row_of, fusion=models[f])

    return rank, models


def _sample(books: Sequence[Book], rows: FoldRows, reader: Reader) -> tuple[np.ndarray, np.ndarray]:
    return fusion_sample([rows.row(g) for g in reader.given], {books[g].id for g in reader.given},
                         {books[t].id for t in reader.target})
