"""The fresh-reader protocols of issue 30 on hand-made lists with known answers."""
from __future__ import annotations

import pytest

from smartlib_training.behaviour import BehaviourQuery
from smartlib_training.personal_quality import OWN, SIMILAR, personal_report, readers, score_readers, similar_ranking

QUERIES = [
    BehaviourQuery(0, (10, 11, 12, 13)),
    BehaviourQuery(1, (20, 21)),  # too short for three books: nothing would be left to find
    BehaviourQuery(2, (30, 31, 32)),
]


def test_three_books_give_the_query_and_the_first_two_of_its_list_and_target_the_rest():
    three = readers(QUERIES, 2)
    assert [(r.given, r.target) for r in three] == [((0, 10, 11), (12, 13)), ((2, 30, 31), (32,))]
    one = readers(QUERIES, 0)
    assert [(r.given, r.target) for r in one] == [((q.query,), q.relevant) for q in QUERIES]


def test_similar_books_leaves_the_given_books_out():
    rank = similar_ranking([[10, 12, 11, 13, 5], [], [31, 32]])
    first, third = readers(QUERIES, 2)
    assert rank(first) == [12, 13, 5]
    assert score_readers([first, third], rank)["recall@10"].mean == 1.0


def test_returning_a_readers_own_book_is_counted():
    first = readers(QUERIES, 2)[0]
    scores = score_readers([first], lambda r: [11, 12, 0, 13])
    assert scores[OWN].mean == pytest.approx(2 / 3)  # two of its three books came back
    assert scores["recall@10"].mean == 1.0
    clean = score_readers([first], lambda r: [12, 13])
    assert clean[OWN].mean == 0.0


def test_the_report_has_both_protocols_with_their_reader_counts():
    report = personal_report(QUERIES, {SIMILAR: similar_ranking([[10, 11], [20], [30]])})
    assert report["one book"]["readers"] == 3 and report["three books"]["readers"] == 2
    assert report["one book"][SIMILAR]["recall@10"]["mean"] == pytest.approx((2 / 4 + 1 / 2 + 1 / 3) / 3)
