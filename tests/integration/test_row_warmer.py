"""Reader rows built ahead (services/recommend/row_warmer.py): every book warmed, rebuilt after a write,
stopped with the server, and answering exactly like rows built on demand."""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from smartlib_core.domain import Approach, BookFilter
from smartlib_server.services.recommend.service import READER_ROW, RecommendService

DEADLINE_S = 120.0  # generous: the machine is shared; a pass over 300 books takes a second or two


@pytest.fixture
def make_ranked(make_server, starter_settings, ranked_store):
    root, version = ranked_store

    def make(**overrides):
        return make_server(dataclasses.replace(starter_settings, model_store=root, encoder_version=version, **overrides))

    return make


def wait_warm(server, deadline_s: float = DEADLINE_S) -> None:
    """Polls until the warmer has covered the catalog version served now."""
    warmer, index = server.services.warmer, server.services.index
    deadline = time.monotonic() + deadline_s
    while not (warmer.is_warm() and warmer.progress.version == index.version):
        assert time.monotonic() < deadline, f"rows not warm in {deadline_s}s: {warmer.progress}"
        time.sleep(0.05)


def kept(server, book_id: str) -> bool:
    state, version = server.services.index.state, server.services.index.version
    return server.services.recommend.rows.holds(state.finetuned.index, version, book_id, READER_ROW)


def built_ahead(server) -> float:
    return server.services.metrics.registry.get_sample_value("smartlib_reader_rows_built_ahead_total")


def test_every_books_row_is_built_ahead_and_answers_on_the_event_loop(make_ranked):
    server = make_ranked()
    wait_warm(server)
    books = server.services.index.books
    assert server.services.warmer.progress.total == len(books)
    assert all(kept(server, book_id) for book_id in books)
    assert built_ahead(server) == len(books)
    assert server.services.metrics.registry.get_sample_value("smartlib_reader_rows_warm_pending") == 0
    live = server.services.recommend
    for book_id in sorted(books)[::7]:  # wait=False: a kept row answers without a worker thread
        assert len(live.similar_books(book_id, 10, None, BookFilter(), wait=False).items) == 10


def test_baseline_requests_leave_the_warmed_rows_alone(make_ranked):
    server = make_ranked()
    wait_warm(server)
    books, live = server.services.index.books, server.services.recommend
    for book_id in sorted(books)[:5]:
        assert len(live.similar_books(book_id, 10, Approach.BASELINE, BookFilter()).items) == 10
    assert server.services.warmer.is_warm() and all(kept(server, book_id) for book_id in books)


def test_warmed_rows_answer_exactly_like_whole_rows_built_on_demand(make_ranked):
    """Kept rows hold only their head (max_k + ROW_SLACK candidates); a request they leave short
    ranks the whole pool again. Either way the answer must be that of a whole row."""
    server = make_ranked()
    wait_warm(server)
    live = server.services.recommend
    index, inference = server.services.index, server.services.inference
    whole = RecommendService(index, inference, max_k=1000)  # rows of 1,032: every pool kept whole
    on_demand = RecommendService(index, inference)  # the same trimming, nothing warmed
    ids = sorted(index.books)
    compared = 0
    for book_id in ids[::11]:
        head = [i.book.id for i in live.similar_books(book_id, 60, None, BookFilter()).items]
        filters = [
            BookFilter(),
            BookFilter(exclude_ids=frozenset({ids[0], "no-such-id"})),
            BookFilter(exclude_ids=frozenset(head)),  # the kept head runs short: ranked whole again
            BookFilter(include_genres=frozenset({"fantasy"})),
            BookFilter(min_avg_rating=4.2, exclude_genres=frozenset({"fiction"})),
        ]
        for k in (1, 10, 20, 100):
            for filt in filters:
                want = whole.similar_books(book_id, k, None, filt)
                for service in (live, on_demand):
                    got = service.similar_books(book_id, k, None, filt)
                    assert [i.book.id for i in got.items] == [i.book.id for i in want.items], (book_id, k, filt)
                    assert [i.reason for i in got.items] == [i.reason for i in want.items]
                    np.testing.assert_allclose([i.score for i in got.items], [i.score for i in want.items])
                compared += 1
    assert compared >= 500


def test_a_write_restarts_the_warmer_and_the_rebuilt_rows_follow_it(make_ranked):
    server = make_ranked()
    wait_warm(server)
    live, catalog, index = server.services.recommend, server.services.catalog, server.services.index
    before = built_ahead(server)
    hobbit = next(b for b in index.books.values() if b.title.startswith("The Hobbit"))
    first = live.similar_books(hobbit.id, 5, None, BookFilter(), wait=False).items
    gone, renamed = first[0].book, first[1].book
    catalog.delete_book(gone.id)
    catalog.upsert_books([dataclasses.replace(renamed, title=renamed.title + " (Revised)")])
    wait_warm(server)
    assert built_ahead(server) >= before + len(index.books) - 1  # a whole pass again, at the new version
    books = index.books
    assert gone.id not in books and all(kept(server, book_id) for book_id in books)
    titles = []  # the renamed book's title wherever it is recommended
    for book_id in books:
        items = live.similar_books(book_id, 20, None, BookFilter(), wait=False).items
        assert gone.id not in [i.book.id for i in items]
        titles += [i.book.title for i in items if i.book.id == renamed.id]
    assert titles and set(titles) == {renamed.title + " (Revised)"}


def test_the_warmer_stops_with_the_server(make_ranked):
    server = make_ranked()
    warmer = server.services.warmer
    assert warmer.running
    server.stop()
    assert not warmer.running
    assert not [t for t in threading.enumerate() if t.name == "smartlib-row-warmer" and t.is_alive()
                and t is warmer._worker.thread]


def test_warm_rows_off_builds_nothing_ahead(make_ranked):
    server = make_ranked(warm_rows=False)
    assert server.services.warmer is None
    some = sorted(server.services.index.books)[4]
    assert not kept(server, some)
    server.services.recommend.similar_books(some, 5, Approach.FINETUNED, BookFilter())
    assert kept(server, some)  # built on demand, as before
