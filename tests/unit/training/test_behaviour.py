"""Behavioural metrics on hand-made lists with known answers, the file reader and the folds."""
from __future__ import annotations

import json

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_training.behaviour import (
    BehaviourQuery,
    estimate,
    folds,
    load_behaviour,
    ndcg_at,
    recall_at,
    reciprocal_rank,
    score_rankings,
)


def test_recall_divides_by_what_could_fit():
    assert recall_at([1, 2, 3], [2, 9], k=3) == 0.5
    assert recall_at(list(range(10)), list(range(20)), k=10) == 1.0  # 20 relevant, 10 fit
    assert recall_at([5, 6], [1], k=10) == 0.0


def test_ndcg_and_mrr_reward_early_hits():
    assert ndcg_at([7, 1], [7], k=10) == pytest.approx(1.0)
    assert ndcg_at([1, 7], [7], k=10) == pytest.approx(1 / np.log2(3))
    assert ndcg_at([1, 7, 8], [7, 8], k=10) == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3)))
    assert reciprocal_rank([4, 5, 6], [6], k=10) == pytest.approx(1 / 3)
    assert reciprocal_rank([4, 5, 6], [6], k=2) == 0.0


def test_scores_over_queries_carry_intervals_around_the_mean():
    queries = [BehaviourQuery(0, (1,)), BehaviourQuery(1, (2,)), BehaviourQuery(2, (3,)), BehaviourQuery(3, (4,))]
    scores = score_rankings([[1], [9], [3], [9]], queries)
    recall = scores["recall@10"]
    assert recall.mean == 0.5 and recall.queries == 4
    assert 0.0 <= recall.low <= recall.mean <= recall.high <= 1.0 and recall.high > recall.low
    assert estimate([0.3] * 50).low == pytest.approx(0.3)  # no spread, no interval


def test_the_interval_is_the_95_percent_bootstrap_of_the_mean():
    # Half zeros, half ones: the mean's standard error is 0.5 / sqrt(n), so a 95 % interval is
    # 1.96 x 0.05 = 0.098 either side at n = 100, and half that at n = 400.
    hundred = estimate([0.0, 1.0] * 50)
    assert hundred.mean == 0.5 and hundred.queries == 100
    assert hundred.half_width == pytest.approx(0.098, abs=0.01)
    assert hundred.low == pytest.approx(0.5 - hundred.half_width, abs=0.01)  # centred on the mean
    assert estimate([0.0, 1.0] * 200).half_width == pytest.approx(0.049, abs=0.006)


def test_folds_split_every_query_into_exactly_one_test_fold():
    parts = folds(23, 5, seed=1)
    joined = np.concatenate(parts)
    assert len(parts) == 5 and sorted(joined.tolist()) == list(range(23))
    with pytest.raises(ValueError):
        folds(3, 5)


def _book(i: int, title: str, author: str, rank: int) -> Book:
    return Book(id=f"b{i}", title=title, authors=(author,), list_rank=rank)


def test_file_rows_map_to_books_by_position_or_by_title_and_author(tmp_path):
    books = [_book(0, "Dune (Dune, #1)", "Frank Herbert", 10), _book(1, "Emma", "Jane Austen", 11),
             _book(2, "Persuasion", "Jane Austen", 12)]
    path = tmp_path / "similar.jsonl"
    records = [
        # a merged edition (row 40 is not in the catalog) found by title and author; an unknown book dropped
        {"query": {"row": 11, "title": "Emma", "author": "Jane Austen"},
         "similar": [{"row": 40, "title": "Persuasion", "author": "Jane Austen"},
                     {"row": 99, "title": "Nowhere", "author": "Nobody"},
                     {"row": 10, "title": "Dune", "author": "Frank Herbert"}]},
        {"query": {"row": 77, "title": "Unknown", "author": "Nobody"},
         "similar": [{"row": 10, "title": "Dune", "author": "Frank Herbert"}]},
        # a row number that points at another book is not trusted over the title and author
        {"query": {"row": 12, "title": "Dune", "author": "Frank Herbert"},
         "similar": [{"row": 11, "title": "Emma", "author": "Jane Austen"}]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    assert load_behaviour(path, books) == [BehaviourQuery(1, (2, 0)), BehaviourQuery(0, (1,))]


def test_a_broken_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": {"row": 1}, "similar": []}\n{"oops": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_behaviour(path, [_book(0, "A", "B", 1)])
