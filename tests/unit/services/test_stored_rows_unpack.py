"""Restored reader rows (services/recommend/stored_rows.py) answer as the rows that were stored,
with the reasons stored beside them: a restored row makes none, and a damaged reason table is
refused (the file is then ignored and the rows rebuilt, tests/integration/test_stored_rows.py)."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_server.services.recommend import stored_rows
from smartlib_server.services.recommend.similar_rows import SimilarRow

BOOKS = {f"b{i}": Book(id=f"b{i}", title=f"Book {i}", authors=(f"Author {i % 3}",)) for i in range(6)}


def stored() -> dict[str, SimilarRow]:
    def make(book: Book):
        return lambda candidate: f"{candidate.id} like {book.id} – ü"  # not ASCII: the table is cut by characters

    rows = {b: SimilarRow([c for c in BOOKS if c != b][:4], [0.9, 0.5, 0.1, -0.0], BOOKS, make(BOOKS[b])) for b in ("b0", "b4")}
    rows["b0"].picks(1, frozenset())  # one answer built already: its reason is stored as built
    return rows


def answer(row: SimilarRow) -> list[tuple[str, float, str]]:
    return [(r.book.id, r.score, r.reason) for r in row.picks(4, frozenset())]


def test_restored_rows_answer_as_stored_with_the_stored_reasons():
    originals = stored()
    arrays = stored_rows.pack("k", originals)
    restored = stored_rows.unpack("k", arrays, BOOKS)  # no reason function: a restored row never makes one
    assert {b: answer(r) for b, r in restored.items()} == {b: answer(r) for b, r in originals.items()}
    assert len(arrays["reason_starts"]) == 1 + len({r for row in originals.values() for r in row.reasons()})
    again = stored_rows.pack("k", restored)  # a restored row is stored again with the same reasons
    assert all(np.array_equal(again[name], arrays[name]) for name in stored_rows.ARRAYS)


def shift_a_start(arrays):
    arrays["reason_starts"][1] = arrays["reason_starts"][2] + 1


def code_outside(arrays):
    arrays["reasons"][3] = len(arrays["reason_starts"]) - 1


def cut_the_text(arrays):
    arrays["reason_text"] = arrays["reason_text"][:-1]  # inside the last "ü": not UTF-8 any more


def one_reason_short(arrays):
    arrays["reasons"] = arrays["reasons"][:-1]


@pytest.mark.parametrize("damage", [shift_a_start, code_outside, cut_the_text, one_reason_short])
def test_a_damaged_reason_table_is_refused(damage):
    arrays = stored_rows.pack("k", stored())
    stored_rows.unpack("k", arrays, BOOKS)  # the control
    damage(arrays)
    with pytest.raises(ValueError):
        stored_rows.unpack("k", arrays, BOOKS)
