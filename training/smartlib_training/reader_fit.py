"""Fits the reader ranker (smartlib_core.reader_ranking) on behavioural lists, and scores it honestly.

Training is listwise: for each query book, a softmax over its candidate pool should put its mass
on the books readers paired with it. Out-of-fold rankings (each query ranked by a model that
never saw it) are what the reports quote; the shipped model is then fit on every query.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from smartlib_core.domain import Book
from smartlib_core.reader_ranking import FEATURES, NEAREST, ReaderRanker, SignalTable, candidate_slots
from smartlib_core.top_n import top_n
from smartlib_training.behaviour import FOLDS, BehaviourQuery, folds

EPOCHS = 300
LEARNING_RATE = 0.05
WEIGHT_DECAY = 1e-3


@dataclasses.dataclass(frozen=True)
class Example:
    query: int
    candidates: np.ndarray  # catalog rows
    features: np.ndarray  # (len(candidates), len(FEATURES))
    labels: np.ndarray  # 1.0 where readers paired the candidate with the query


class Space:
    """Unit vectors of the catalog in one space (raw 2688-d or an encoder's 256-d), row-aligned."""

    def __init__(self, unit_vectors: np.ndarray):
        self.vectors = np.ascontiguousarray(unit_vectors, dtype=np.float32)

    def similarities(self, row: int) -> np.ndarray:
        return self.vectors @ self.vectors[row]

    def nearest(self, row: int, n: int = NEAREST) -> tuple[np.ndarray, np.ndarray]:
        """(rows, similarities to every book) with rows the top n other books."""
        sims = self.similarities(row)
        return top_n(sims, n, exclude=row, ordered=False), sims


def signal_table(books: Sequence[Book]) -> SignalTable:
    """A table whose slots are the rows of `books` (it fills slots in upsert order)."""
    table = SignalTable()
    table.upsert(books)
    return table


def examples(table: SignalTable, space: Space, queries: Sequence[BehaviourQuery]) -> list[Example]:
    out = []
    for q in queries:
        nearest, sims = space.nearest(q.query)
        pool = candidate_slots(table, q.query, nearest)
        labels = np.isin(pool, q.relevant).astype(np.float32)
        out.append(Example(q.query, pool, table.features(q.query, pool, sims[pool]), labels))
    return out


def fit_ranker(train: Sequence[Example], seed: int = 0, provenance: str = "") -> ReaderRanker:
    """A linear listwise ranker over standardised features (softmax cross-entropy per query)."""
    usable = [e for e in train if e.labels.sum() > 0]
    if not usable:
        raise ValueError("no query has a paired book among its candidates; nothing to learn from")
    stacked = np.concatenate([e.features for e in usable]).astype(np.float64)
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)  # a constant feature carries no signal here
    torch.manual_seed(seed)
    weights = torch.zeros(len(FEATURES), dtype=torch.float64, requires_grad=True)
    batches = [(torch.from_numpy((e.features - mean) / scale), torch.from_numpy(e.labels / e.labels.sum()).double())
               for e in usable]
    opt = torch.optim.Adam([weights], lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = sum(-(torch.log_softmax(x @ weights, 0) * y).sum() for x, y in batches) / len(batches)
        loss.backward()
        opt.step()
    return ReaderRanker(tuple(mean.tolist()), tuple(scale.tolist()), tuple(weights.detach().numpy().tolist()), provenance)


def ranked(ranker: ReaderRanker, example: Example, k: int) -> list[int]:
    order = np.argsort(-ranker.score(example.features), kind="stable")[:k]
    return example.candidates[order].tolist()


def fold_rankers(all_examples: Sequence[Example], n_folds: int = FOLDS, seed: int = 0) -> list[tuple[np.ndarray, ReaderRanker]]:
    """(test query indices, a ranker fit on the other folds only) per fold."""
    out = []
    for test in folds(len(all_examples), n_folds, seed):
        held = set(test.tolist())
        out.append((test, fit_ranker([e for i, e in enumerate(all_examples) if i not in held], seed)))
    return out


def out_of_fold(all_examples: Sequence[Example], k: int, rankers: Sequence[tuple[np.ndarray, ReaderRanker]]) -> list[list[int]]:
    """Each query's top k from the ranker of the fold that held it out (`fold_rankers`)."""
    rankings: list[list[int] | None] = [None] * len(all_examples)
    for test, ranker in rankers:
        for i in test.tolist():
            rankings[i] = ranked(ranker, all_examples[i], k)
    return rankings  # type: ignore[return-value]
