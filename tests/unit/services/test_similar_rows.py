"""SimilarRows keeps one row per book and pool size for one index at one catalog version."""
from __future__ import annotations

from smartlib_core.domain import Book
from smartlib_server.services.recommend.similar_rows import SimilarRow, SimilarRows
from smartlib_server.services.recommend.vector_index import VectorIndex

BOOKS = {f"b{i}": Book(id=f"b{i}", title=f"Book {i}", authors=(f"Author {i % 3}",)) for i in range(8)}


def make_row(ids, reasons: list[str] | None = None) -> SimilarRow:
    def reason(book: Book) -> str:
        if reasons is not None:
            reasons.append(book.id)
        return f"like {book.id}"

    return SimilarRow(list(ids), [1.0 - n / 10 for n in range(len(ids))], BOOKS, reason)


def test_picks_skip_excluded_and_unknown_books_and_stop_at_k():
    row = make_row(["b1", "gone", "b2", "b3", "b4"])
    picks = row.picks(2, frozenset({"b2"}))
    assert [(p.book.id, p.score, p.reason) for p in picks] == [("b1", 1.0, "like b1"), ("b3", 0.7, "like b3")]
    assert [p.book.id for p in row.picks(10, frozenset())] == ["b1", "b2", "b3", "b4"]  # fewer than k exist


def test_recommendations_are_built_once_and_only_when_returned():
    reasons: list[str] = []
    row = make_row(["b1", "b2", "b3", "b4"], reasons)
    first = row.picks(2, frozenset())
    assert reasons == ["b1", "b2"]  # b3 and b4 not needed yet
    again = row.picks(2, frozenset({"b2"}))
    assert again[0] is first[0] and reasons == ["b1", "b2", "b3"]


def test_rows_are_reused_for_one_index_and_version_only():
    rows, built = SimilarRows(), []

    def build():
        built.append(1)
        return make_row(["b1", "b2"])

    index, other = VectorIndex(4), VectorIndex(4)
    row = rows.row(index, 3, "b0", 12, build)
    assert rows.row(index, 3, "b0", 12, build) is row and len(built) == 1
    assert rows.row(index, 3, "b0", 16, build) is not row  # another pool size re-ranks another pool
    assert rows.row(index, 4, "b0", 12, build) is not row  # a write bumped the version
    assert len(rows) == 1  # the old version's rows are dropped with it
    assert rows.row(other, 4, "b0", 12, build) is not None and len(built) == 4  # a swapped-in index


def test_a_row_the_table_could_not_give_is_not_kept_and_the_bound_holds():
    rows = SimilarRows(max_rows=3)
    index = VectorIndex(4)
    assert rows.row(index, 1, "b0", 12, lambda: None) is None
    assert rows.row(index, 1, "b0", 12, lambda: make_row(["b1"])) is not None  # built after all
    for n in range(7):
        rows.row(index, 1, f"b{n}", 12, lambda: make_row(["b1"]))
        assert len(rows) <= 3


def test_a_request_that_read_an_older_version_gets_a_row_but_drops_nothing():
    rows = SimilarRows()
    index = VectorIndex(4)
    newer = rows.row(index, 5, "b0", 12, lambda: make_row(["b1"]))
    generation = rows.generation
    stale = rows.row(index, 4, "b0", 12, lambda: make_row(["b2"]))  # began before the write to 5
    assert stale.ids == ["b2"] and not rows.holds(index, 4, "b0", 12)
    assert rows.row(index, 5, "b0", 12, lambda: None) is newer and rows.generation == generation
    assert rows.holds(index, 5, "b0", 12) and not rows.holds(VectorIndex(4), 5, "b0", 12)


def test_the_generation_moves_when_rows_are_dropped():
    rows = SimilarRows(max_rows=2)
    index = VectorIndex(4)
    rows.row(index, 1, "b0", 12, lambda: make_row(["b1"]))
    first = rows.generation
    rows.row(index, 1, "b1", 12, lambda: make_row(["b1"]))
    assert rows.generation == first
    rows.row(index, 1, "b2", 12, lambda: make_row(["b1"]))  # the bound empties the set
    assert rows.generation != first and not rows.holds(index, 1, "b0", 12)
