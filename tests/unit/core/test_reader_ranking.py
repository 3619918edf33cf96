"""The reader ranker's per-book signals, features, pool and stored form."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.reader_ranking import DEFAULT_RANKER, FEATURES, ReaderRanker, SignalTable, candidate_slots


def _book(i: int, author: str, genres: tuple[str, ...], ratings: int = 0, rank: int = -1, series: str = "") -> Book:
    return Book(id=f"b{i}", title=f"Book {i}", authors=(author,), genres=genres, num_ratings=ratings,
                list_rank=rank, avg_rating=4.2 if ratings else 0.0, series_name=series)


BOOKS = [
    _book(0, "Ann", ("Fantasy", "Fiction", "Magic"), ratings=1_000_000, rank=0, series="Realm"),
    _book(1, "Ann", ("Fantasy", "Magic"), ratings=10_000, rank=99, series="Realm"),
    _book(2, "Bob", ("Romance", "Fiction"), ratings=100, rank=999),
    _book(3, "Cy", ("Fantasy", "Fiction", "Adventure"), ratings=2_000_000, rank=1),
    _book(4, "Di", ("History",)),  # no popularity data at all
]


def _features(table: SignalTable, query: str, candidates: list[str]) -> dict[str, np.ndarray]:
    slots = np.array([table.slot(c) for c in candidates])
    values = table.features(table.slot(query), slots, np.zeros(len(candidates), dtype=np.float32))
    return {name: values[:, i] for i, name in enumerate(FEATURES)}


def test_features_describe_the_pair():
    table = SignalTable()
    table.upsert(BOOKS)
    f = _features(table, "b0", ["b1", "b2", "b3", "b4"])
    assert f["same_author"].tolist() == [1, 0, 0, 0]
    assert f["same_series"].tolist() == [1, 0, 0, 0]
    assert f["genre_jaccard"].tolist() == pytest.approx([2 / 3, 1 / 4, 2 / 4, 0.0])
    assert f["same_main_genre"].tolist() == [1, 0, 1, 0]
    assert f["top3_shared"].tolist() == [2, 1, 2, 0]
    assert f["log_ratings"].tolist() == pytest.approx([4.0, 2.0, np.log10(2e6), 0.0])
    assert f["has_ratings"].tolist() == [1, 1, 1, 0]
    # Gaps are 0 where the candidate has no data, not a large "distance" from nothing.
    assert f["ratings_gap"].tolist() == pytest.approx([2.0, 4.0, abs(6 - np.log10(2e6)), 0.0])
    assert f["popularity_gap"].tolist() == pytest.approx([2.0, 3.0, np.log10(2), 0.0])
    assert f["genre_profile"][0] > f["genre_profile"][1] > 0  # shelf order: shared first shelves weigh more


def test_remove_moves_the_last_book_without_mixing_signals():
    table = SignalTable()
    table.upsert(BOOKS)
    table.remove(["b1"])  # b4, the last slot, moves into b1's slot
    assert "b1" not in table and len(table) == 4
    f = _features(table, "b0", ["b4", "b3"])
    assert f["has_ratings"].tolist() == [0, 1]
    assert f["same_author"].tolist() == [0, 0]  # b1 was Ann's other book, and it is gone
    assert table.author_mates(table.slot("b0")).tolist() == []
    table.upsert([BOOKS[1]])
    assert table.ids(table.author_mates(table.slot("b0")).tolist()) == ["b1"]


def test_an_upsert_replaces_a_books_signals():
    table = SignalTable()
    table.upsert(BOOKS)
    table.upsert([_book(2, "Ann", ("Fantasy",), ratings=5)])
    f = _features(table, "b0", ["b2"])
    assert f["same_author"].tolist() == [1] and f["same_main_genre"].tolist() == [1]
    assert table.ids(table.author_mates(table.slot("b0")).tolist()) == ["b1", "b2"]


def test_pool_holds_nearest_shelf_mates_and_author_books_but_never_the_query():
    table = SignalTable()
    table.upsert(BOOKS)
    pool = table.ids(candidate_slots(table, table.slot("b0"), np.array([table.slot("b4")])).tolist())
    assert "b0" not in pool
    assert {"b1", "b3", "b4"} <= set(pool)  # author, shelf-mate, nearest


def test_stored_ranker_round_trips_and_refuses_other_features():
    values = DEFAULT_RANKER.to_dict()
    assert ReaderRanker.from_dict(values) == DEFAULT_RANKER
    with pytest.raises(ValueError, match="other features"):
        ReaderRanker.from_dict({**values, "features": values["features"][:-1]})
    with pytest.raises(ValueError, match="positive"):
        ReaderRanker.from_dict({**values, "scale": [0.0] * len(FEATURES)})


def test_score_is_linear_in_standardised_features():
    ranker = ReaderRanker(tuple([1.0] * len(FEATURES)), tuple([2.0] * len(FEATURES)),
                          tuple([1.0] + [0.0] * (len(FEATURES) - 1)))
    x = np.ones((2, len(FEATURES)))
    x[1, 0] = 5.0
    assert ranker.score(x).tolist() == pytest.approx([0.0, 2.0])


def test_a_bulk_upsert_sizes_the_rows_once_and_fills_them_as_one_at_a_time_would(monkeypatch):
    from smartlib_core import reader_ranking

    books = [_book(i, f"A{i % 7}", (f"G{i % 90}", f"G{(i * 7) % 90}"), ratings=i, rank=i % 50) for i in range(300)]
    single = SignalTable()
    for book in books:
        single.upsert([book])
    row_grows = []
    real = reader_ranking._resized

    def spy(array, shape, fill):
        if array.ndim == 2 and shape[1] == 5:  # the scalars: one call per growth of the rows
            row_grows.append(shape[0])
        return real(array, shape, fill)

    monkeypatch.setattr(reader_ranking, "_resized", spy)
    bulk = SignalTable()
    bulk.upsert(iter(books))  # a one-pass iterable, as dict.values() or a generator may be
    assert row_grows == [len(books)]
    ids = [b.id for b in books]
    for query in ("b0", "b13", "b299"):
        expected, got = _features(single, query, ids), _features(bulk, query, ids)
        for name in FEATURES:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_a_restored_table_answers_and_takes_writes_as_the_table_it_was_stored_from():
    table = SignalTable()
    table.upsert(BOOKS)
    restored = SignalTable.restore(table.snapshot())
    candidates = ["b1", "b2", "b3", "b4"]
    for query in ("b0", "b2", "b4"):
        expected, got = _features(table, query, candidates), _features(restored, query, candidates)
        for name in FEATURES:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert restored.author_mates(restored.slot("b0")).tolist() == table.author_mates(table.slot("b0")).tolist()
    for t in (table, restored):  # a new genre column, a removal that moves a slot, a new author book
        t.upsert([_book(5, "Ann", ("Horror", "Fantasy"), ratings=50)])
        t.remove(["b1"])
    for name in FEATURES:
        np.testing.assert_array_equal(_features(restored, "b0", ["b5", "b4"])[name], _features(table, "b0", ["b5", "b4"])[name])
    assert restored.ids(restored.author_mates(restored.slot("b0")).tolist()) == ["b5"]


@pytest.mark.parametrize("damage", ["shape", "column", "ids"])
def test_a_stored_table_that_does_not_hold_together_is_refused(damage):
    table = SignalTable()
    table.upsert(BOOKS)
    arrays = table.snapshot()
    if damage == "shape":
        arrays["scalars"] = arrays["scalars"][:-1]
    elif damage == "column":
        arrays["top3"] = arrays["top3"].copy()
        arrays["top3"][0, 0] = 999
    else:
        arrays["authors"] = arrays["authors"][:-2]  # one author fewer than ids
    with pytest.raises(ValueError):
        SignalTable.restore(arrays)
