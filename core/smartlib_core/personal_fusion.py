"""A learned fusion of a user's reader-ranked rows: per candidate, how the rows hold it.

The plain merge (smartlib_core.personal_ranking) scores a candidate by its mean probability over
the user's rows. Here each candidate gets a few features read across the rows, and a linear score
over them, fit on the dev readers (training/smartlib_training/fusion_fit.py), orders the candidates:

- how the rows hold it: its mean and best probability, and the share of rows whose head holds it;
- how the *central* rows hold it: a row that gives the user's other liked books high probability
  speaks for the user's taste as a whole, one that gives them none for one book only. Each row is
  weighted by the probability it gives the other liked books.

Only shares of the rows enter, never which row is which (not the first book, not the newest), so a
score means the same for two liked books as for twenty. Measured out of fold on the dev readers it
ties the plain merge (README, Personalisation): it is measured by `smartlib eval`, not served.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from smartlib_core.linear_score import LinearScore

FUSION_FEATURES = (
    "log_mean_probability",  # log of the rows' weighted mean probability: the plain merge's score
    "log_max_probability",  # the best any one row gives it
    "row_share",  # weighted share of the rows whose head holds it
    "log_central_probability",  # its probability in the row that gives the other liked books the most
    "log_central_mean_probability",  # mean probability with rows weighted by what they give the other liked books
)
PROBABILITY_FLOOR = 1e-6  # a probability below this (or absent) counts as this before the log

Head = tuple[Sequence[str], np.ndarray]  # a row's head: candidate ids and their probabilities, best first


def centrality(books: Sequence[str], heads: Sequence[Head]) -> np.ndarray:
    """Per row, the probability its head gives the user's other liked books (0 when none is there;
    a row never holds its own book)."""
    liked = set(books)
    return np.array([sum(float(p) for b, p in zip(ids, probs, strict=True) if b in liked) for ids, probs in heads])


def fusion_features(books: Sequence[str], weights: Sequence[float], heads: Sequence[Head]) -> tuple[list[str], np.ndarray]:
    """(candidate ids, (n, len(FUSION_FEATURES)) float64) over every book any head holds, in
    first-seen order. `books[j]` is the liked book whose row is `heads[j]`, `weights[j]` > 0 how
    much the user likes it."""
    index: dict[str, int] = {}
    for ids, _ in heads:
        for book_id in ids:
            index.setdefault(book_id, len(index))
    n, m = len(index), len(heads)
    if n == 0:
        return [], np.zeros((0, len(FUSION_FEATURES)))
    shares = np.asarray(weights, dtype=np.float64)
    shares = shares / shares.sum()
    prob = np.zeros((n, m))
    for j, (ids, probs) in enumerate(heads):
        prob[[index[b] for b in ids], j] = probs
    central = centrality(books, heads) * shares
    central_shares = central / central.sum() if central.sum() > 0 else shares
    most = int(np.argmax(central)) if central.max() > 0 else int(np.argmax(shares))

    def log(values: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(values, PROBABILITY_FLOOR))

    columns = (log(prob @ shares), log(prob.max(axis=1)), (prob > 0) @ shares, log(prob[:, most]), log(prob @ central_shares))
    return list(index), np.column_stack(columns)


@dataclasses.dataclass(frozen=True)
class FusionModel(LinearScore):
    """A linear score over standardised FUSION_FEATURES: w . (x - mean) / scale."""

    FEATURES = FUSION_FEATURES
    NAME = "fusion model"
