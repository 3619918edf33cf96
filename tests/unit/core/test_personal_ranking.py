"""The merge of reader-ranked rows behind RecommendForUser, on hand-made rows with known answers."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_core.personal_ranking import (
    CoReadingEvidence,
    Evidence,
    PersonalWeights,
    Row,
    cf_share,
    evidence_share,
    merge_rows,
    personal_ranking,
)

DUNE = Row("dune", 1.0, ["messiah", "hyperion", "foundation", "solaris"], [3.0, 2.0, 1.0, 0.0])
HYPERION = Row("hyperion", 1.0, ["endymion", "foundation", "dune", "solaris"], [3.0, 2.5, 2.0, 0.0])


def test_one_book_keeps_its_row_order():
    picks = personal_ranking([DUNE], 3)
    assert [p.book for p in picks] == ["messiah", "hyperion", "foundation"]
    assert {p.source for p in picks} == {"dune"}


def test_a_book_both_rows_pair_rises_above_either_rows_head():
    picks = personal_ranking([DUNE, HYPERION], 2, PersonalWeights(temperature=4.0),
                             accepts=lambda b: b not in {"dune", "hyperion"})
    assert picks[0].book == "foundation"  # second in one row, third in the other, and in both


def test_own_books_are_never_returned():
    own = {"dune", "hyperion"}
    picks = personal_ranking([DUNE, HYPERION], 10, accepts=lambda b: b not in own)
    assert own.isdisjoint(p.book for p in picks) and len(picks) == 4


def test_the_source_is_the_book_contributing_most():
    merged = merge_rows([DUNE, HYPERION], PersonalWeights())
    assert merged["messiah"][1] == "dune" and merged["endymion"][1] == "hyperion"


def test_near_twins_of_a_disliked_book_are_pushed_down():
    disliked = Row("messiah-sequel", 1.0, ["messiah"], [1.0])
    weights = PersonalWeights(dislike_twins=1, dislike_factor=0.01)
    picks = personal_ranking([DUNE], 4, weights, evidence=Evidence(disliked=[disliked]))
    assert [p.book for p in picks][-1] == "messiah"
    series = {"messiah": "dune saga"}
    by_series = personal_ranking([DUNE], 4, weights, evidence=Evidence(
        disliked=[Row("children", 1.0, [], [])], series_of=lambda b: series.get(b, "dune saga" if b == "children" else "")))
    assert [p.book for p in by_series][-1] == "messiah"


def test_one_series_takes_at_most_its_share_when_several_are_liked():
    saga = Row("a1", 1.0, [f"a{i}" for i in range(2, 12)], [10.0 - i for i in range(10)])
    other = Row("b1", 0.2, ["c1", "c2", "c3"], [1.0, 0.5, 0.0])

    def series_of(b):
        return "a saga" if b.startswith("a") else ""

    picks = personal_ranking([saga, other], 10, PersonalWeights(series_share=0.3), evidence=Evidence(series_of=series_of))
    assert sum(series_of(p.book) == "a saga" for p in picks[:6]) == 3
    alone = personal_ranking([saga], 10, evidence=Evidence(series_of=series_of))
    assert all(series_of(p.book) == "a saga" for p in alone)  # one liked series: nothing to balance


def test_cf_joins_by_its_evidence():
    assert cf_share(0, PersonalWeights()) == 0.0
    assert cf_share(5, PersonalWeights(cf=0.5, cf_half_evidence=5)) == pytest.approx(0.25)
    without = personal_ranking([DUNE], 5, evidence=Evidence({"neuromancer": 9.0}, cf_known=0))
    assert "neuromancer" not in [p.book for p in without]
    picks = personal_ranking([DUNE], 5, evidence=Evidence({"neuromancer": 9.0}, cf_known=50))
    found = next(p for p in picks if p.book == "neuromancer")
    assert found.via_cf and found.source == ""


def test_co_reading_joins_by_its_evidence_and_names_the_book_it_comes_from():
    lifted = CoReadingEvidence({"solaris": 1.0, "stranger": 0.5}, {"solaris": "dune", "stranger": "dune"}, known=1)
    picks = personal_ranking([DUNE], 5, PersonalWeights(co_reading=0.6, co_reading_half_evidence=1.0), evidence=Evidence(co_reading=lifted))
    order = [p.book for p in picks]
    assert order.index("solaris") < order.index("foundation")  # co-read beats the row's own third
    found = next(p for p in picks if p.book == "solaris")
    assert found.via_co_reading and found.source == "dune" and not found.via_cf
    assert "stranger" in order  # a book no row holds joins as a candidate
    unknown = dataclasses.replace(lifted, known=0)
    alone = personal_ranking([DUNE], 4, evidence=Evidence(co_reading=unknown))
    assert [p.book for p in alone] == ["messiah", "hyperion", "foundation", "solaris"]


def test_one_source_scores_its_share_beside_the_rows():
    # One source at share s: (1 - s) x the rows' score + s x its own, each scaled by its best.
    co = CoReadingEvidence({"messiah": 1.0}, {"messiah": "dune"}, known=1)
    share = evidence_share(1, 0.6, 1.0)
    picks = personal_ranking([DUNE], 1, PersonalWeights(co_reading=0.6, co_reading_half_evidence=1.0), evidence=Evidence(co_reading=co))
    assert picks[0].book == "messiah" and picks[0].score == pytest.approx((1 - share) * 1.0 + share * 1.0)
    assert share == pytest.approx(0.3)
