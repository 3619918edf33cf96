"""Restored reader rows (services/recommend/stored_rows.py) answer as the rows that were stored,
and make each book's reason only when the row builds its first answer, not at restore."""
from __future__ import annotations

from smartlib_core.domain import Book
from smartlib_server.services.recommend import stored_rows
from smartlib_server.services.recommend.similar_rows import SimilarRow

BOOKS = {f"b{i}": Book(id=f"b{i}", title=f"Book {i}", authors=(f"Author {i % 3}",)) for i in range(6)}


def reason_of(made: list[str]):
    def make(book: Book):
        made.append(book.id)
        return lambda candidate: f"{candidate.id} like {book.id}"

    return make


def stored(made: list[str]) -> dict[str, SimilarRow]:
    make = reason_of(made)
    return {b: SimilarRow([c for c in BOOKS if c != b][:3], [0.9, 0.5, 0.1], BOOKS, make(BOOKS[b])) for b in ("b0", "b4")}


def test_restored_rows_make_no_reason_until_asked_and_then_answer_as_stored():
    originals = stored([])
    arrays = stored_rows.pack("k", originals)
    made: list[str] = []
    restored = stored_rows.unpack("k", arrays, BOOKS, reason_of(made))
    assert made == []  # restoring made no reason: that waits for a request
    for book_id, row in originals.items():
        expected = [(r.book.id, r.score, r.reason) for r in row.picks(3, frozenset())]
        assert [(r.book.id, r.score, r.reason) for r in restored[book_id].picks(3, frozenset())] == expected
    assert made == ["b0", "b4"]  # once per row asked, however many answers it built
