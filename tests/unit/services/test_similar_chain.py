"""The SimilarBooks chain: strategies asked in order, the first answer wins, the fast path refuses in one place."""
from __future__ import annotations

import pytest

from smartlib_core.domain import Book, BookFilter
from smartlib_server.services.recommend.similar import SimilarAsk, WouldBlock, answer, may_block


def _ask(blocking: bool) -> SimilarAsk:
    book = Book(id="b1", title="One", authors=("A. Writer",))
    return SimilarAsk(None, 0, None, book, 5, BookFilter(exclude_ids=frozenset({"b1"})), blocking, lambda b: "")


def test_the_first_strategy_that_answers_wins_and_later_ones_are_not_asked():
    asked = []

    def passes(ask):
        asked.append("passes")

    def answers(ask):
        asked.append("answers")
        return ["an answer"]

    def never(ask):
        asked.append("never")
        return ["too late"]

    assert answer([passes, answers, never], _ask(True)) == ["an answer"]
    assert asked == ["passes", "answers"]


def test_an_empty_answer_is_an_answer_not_a_pass():
    assert answer([lambda ask: [], lambda ask: ["search"]], _ask(True)) == []


def test_blocking_work_is_refused_only_on_the_event_loop():
    _ask(True).block()
    may_block(True)
    with pytest.raises(WouldBlock):
        _ask(False).block()
    with pytest.raises(WouldBlock):
        may_block(False)


def test_a_chain_that_only_passes_is_a_programming_error():
    with pytest.raises(AssertionError):
        answer([lambda ask: None], _ask(True))
