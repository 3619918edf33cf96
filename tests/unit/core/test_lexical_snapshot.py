"""A lexical index restored from its snapshot answers, and takes writes, as the one it came from."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.lexical import LexicalIndex

QUERIES = ["lighthouse keeper", "harbour", "coração", "island sea secrets", "zeppelin", "ann author", "nets baker"]


def _books() -> list[Book]:
    return [
        Book(id="a", title="The Lighthouse (Coast, #1)", authors=("Ann Author",),
             description="A keeper tends the lighthouse on a cold northern island."),
        Book(id="b", title="Harbour Days", authors=("Bo Writer",),
             description="A fisherman and his daughter mend nets in a small harbour town."),
        Book(id="c", title="Coração", authors=("Ana Autora",), description="O coração da ilha guarda segredos; the sea keeps the rest."),
        Book(id="d", title="Salt", authors=("Ann Author",), description="The island keeps its secrets, and the sea keeps the rest."),
    ]


def _answers(index: LexicalIndex) -> list:
    return [index.search(q, 10, field) for q in QUERIES for field in ("text", "names")]


def _round_trip(index: LexicalIndex) -> LexicalIndex:
    return LexicalIndex.restore({name: np.array(array) for name, array in index.snapshot().items()})


def test_a_restored_index_answers_alike_and_follows_later_writes_alike():
    built = LexicalIndex()
    built.upsert(_books())
    built.remove(["b"])  # a free row, which the next book reuses
    restored = _round_trip(built)
    assert _answers(restored) == _answers(built) and len(restored) == len(built) == 3
    for index in (built, restored):
        index.upsert([Book(id="e", title="Zeppelin Nights", authors=("Cy Pilot",), description="Airships over the harbour.")])
        index.upsert([Book(id="a", title="The Lighthouse", authors=("Ann Author",), description="Now about a baker.")])
        index.remove(["d"])
    assert _answers(restored) == _answers(built)
    assert "e" in restored and "d" not in restored
    after, expected = restored.snapshot(), built.snapshot()  # the same state, row for row
    assert after.keys() == expected.keys()
    for name, array in expected.items():
        np.testing.assert_array_equal(after[name], array, err_msg=name)


def test_an_empty_index_round_trips():
    assert _answers(_round_trip(LexicalIndex())) == _answers(LexicalIndex())


@pytest.mark.parametrize("damage", ["rows", "offsets", "vocab", "lengths"])
def test_arrays_that_do_not_hold_together_are_refused(damage):
    built = LexicalIndex()
    built.upsert(_books())
    arrays = built.snapshot()
    if damage == "rows":
        arrays["f0_rows"] = arrays["f0_rows"] + 100  # rows past the index
    elif damage == "offsets":
        arrays["f1_rows_offsets"] = arrays["f1_rows_offsets"][:-1]
    elif damage == "vocab":
        arrays["vocab"] = arrays["vocab"][:-1]  # a truncated last word: no closing NUL
    else:
        arrays["f0_lengths"] = arrays["f0_lengths"][:2]
    with pytest.raises(ValueError):
        LexicalIndex.restore(arrays)
