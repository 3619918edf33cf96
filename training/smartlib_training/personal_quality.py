"""RecommendForUser scored on readers' lists: fresh readers who rated one or three books 5 stars.

Two protocols (issue 30), over the behaviour queries:
- "one book": the reader rated the query book Q; the target is Q's whole list.
- "three books": Q and the first two books of its list that are in the catalog; the target is
  the rest of the list.
Beside each, SimilarBooks(Q) on the same readers with the given books left out: more evidence
should give a better list than one book's neighbours, not a worse one. The share of the
reader's own books recommended back is reported too; it must be 0.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from smartlib_core.domain import Book
from smartlib_training.behaviour import BehaviourQuery, Estimate, K, estimate, ndcg_at, recall_at

PROTOCOLS = {"one book": 0, "three books": 2}  # protocol -> books of Q's list the reader also rated
SIMILAR = "SimilarBooks(Q), the given books left out"
SERVED = "RecommendForUser as served (its reader ranker and co-reading graph saw the dev lists: in sample)"
PERSONAL = "reader rows merged, without co-reading (5-fold, out of fold)"
CO_READING = "RecommendForUser: reader rows + co-reading graph (nested 5-fold, out of fold)"
BLEND = "RecommendForUser, the blend before the reader ranking (served)"
FUSION = "the rows fused by a model learned on readers (nested 5-fold, out of fold; not served)"
OWN = "own books returned"


@dataclasses.dataclass(frozen=True)
class Reader:
    query: int  # index into the behaviour queries
    given: tuple[int, ...]  # catalog rows the reader rated 5 stars, oldest first (Q first)
    target: tuple[int, ...]  # catalog rows the reader should be shown


def readers(queries: Sequence[BehaviourQuery], extra: int) -> list[Reader]:
    """One reader per query whose list still has a target after `extra` of its books are given."""
    return [Reader(i, (q.query, *q.relevant[:extra]), q.relevant[extra:])
            for i, q in enumerate(queries) if len(q.relevant) > extra]


Ranking = Callable[[Reader], Sequence[int]]  # a reader -> catalog rows, best first
# The server's RecommendForUser for a fresh reader: (book ids rated 5 stars, oldest first, k,
# ranking: "" the server's default or "blend") -> book ids.
FreshReaders = Callable[[list[str], int, str], list[str]]


def similar_ranking(similar: Sequence[Sequence[int]]) -> Ranking:
    """SimilarBooks(Q) from each query's ranked rows (deep enough to leave K after exclusions)."""
    def rank(reader: Reader) -> list[int]:
        return [r for r in similar[reader.query] if r not in reader.given]
    return rank


def score_readers(group: Sequence[Reader], rank: Ranking) -> dict[str, Estimate]:
    recall, ndcg, own = [], [], []
    for reader in group:
        top = list(rank(reader))[:K]
        recall.append(recall_at(top, reader.target))
        ndcg.append(ndcg_at(top, reader.target))
        own.append(len(set(top) & set(reader.given)) / len(reader.given))
    return {"recall@10": estimate(recall), "ndcg@10": estimate(ndcg), OWN: estimate(own)}


def personal_report(queries: Sequence[BehaviourQuery], rankings: dict[str, Ranking]) -> dict[str, dict]:
    """protocol -> {"readers": n, ranking name -> metric -> Estimate}, JSON-ready."""
    out: dict[str, dict] = {}
    for protocol, extra in PROTOCOLS.items():
        group = readers(queries, extra)
        table: dict = {"readers": len(group)}
        for name, rank in rankings.items():
            table[name] = {m: e.to_dict() for m, e in score_readers(group, rank).items()}
        out[protocol] = table
    return out


def served_ranking(books: Sequence[Book], served: FreshReaders, ranking: str = "") -> Ranking:
    """The server's RecommendForUser (`ranking` as an experiment arm asks for it) over catalog rows."""
    row_of = {b.id: i for i, b in enumerate(books)}

    def personal(reader: Reader) -> list[int]:
        return [row_of[i] for i in served([books[g].id for g in reader.given], K, ranking) if i in row_of]

    return personal
