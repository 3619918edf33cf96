"""SimilarBooks and SearchByText under the default approach: the reader ranker and the text routes,
served over gRPC from an encoder trained on the starter catalog."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2 as cs,
    catalog_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_core.domain import Approach, BookFilter
from smartlib_server.services.recommend import RecommendService, WouldBlock
from smartlib_server.services.recommend.reader_rows import reader_row
from smartlib_training import artifacts


@pytest.fixture
def served(make_server, starter_settings, ranked_store):
    root, version = ranked_store
    server = make_server(dataclasses.replace(starter_settings, model_store=root, encoder_version=version))
    with server.channel() as channel:
        yield server, channel


def test_the_served_encoder_carries_the_ranker_and_it_reorders_like_readers(served, ranked_store):
    server, channel = served
    _, manifest = artifacts.load_verified(ranked_store[0] / "encoder" / ranked_store[1])
    assert manifest["ranking"]["reader_ranker"]["provenance"].startswith("built-in")
    state = server.services.index.state
    assert state.finetuned.ranker is not None
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    plain = server.services.recommend
    by_author = [b for b in state.books.values() if sum(o.authors == b.authors for o in state.books.values()) >= 4]
    ranked_same, plain_same = 0, 0
    for book in by_author[:10]:
        reply = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book.id, k=10))
        assert reply.approach == books_pb2.APPROACH_FINETUNED and len(reply.items) == 10
        assert book.id not in [i.book.id for i in reply.items]
        ranked_same += sum(list(i.book.authors) == list(book.authors) for i in reply.items)
        server.services.index.activate_finetuned(dataclasses.replace(state.finetuned, ranker=None))
        plain_items = plain.similar_books(book.id, 10, Approach.FINETUNED, BookFilter()).items
        plain_same += sum(i.book.authors == book.authors for i in plain_items)
        server.services.index.activate_finetuned(state.finetuned)
    # Readers' lists rarely repeat the author (the ranker weighs same-author against); cosine
    # alone fills a prolific author's list with their own books.
    assert plain_same >= 20 and ranked_same < plain_same / 2


def test_a_ranked_row_is_computed_once_off_the_event_loop_then_reused(served):
    server, _ = served
    # A service of its own: the server's warmer may have built the live service's rows already.
    live = RecommendService(server.services.index, server.services.inference)
    book_id = sorted(server.services.index.books)[5]
    with pytest.raises(WouldBlock):  # first ask: ranking a pool is a worker thread's job
        live.similar_books(book_id, 5, Approach.FINETUNED, BookFilter(), wait=False)
    slow = live.similar_books(book_id, 5, Approach.FINETUNED, BookFilter())
    fast = live.similar_books(book_id, 5, Approach.FINETUNED, BookFilter(exclude_ids=frozenset({"nope"})), wait=False)
    assert [i.book.id for i in fast.items] == [i.book.id for i in slow.items]
    deeper = live.similar_books(book_id, 8, Approach.FINETUNED, BookFilter(), wait=False)
    assert [i.book.id for i in deeper.items[:5]] == [i.book.id for i in slow.items]


def test_filters_and_exclusions_apply_to_the_ranked_pool(served):
    server, channel = served
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    hobbit = next(b.id for b in server.services.index.books.values() if b.title.startswith("The Hobbit"))
    first = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit, k=5))
    dropped = first.items[0].book.id
    request = rs.SimilarBooksRequest(book_id=hobbit, k=5, filter=books_pb2.BookFilter(
        exclude_ids=[dropped], include_genres=["Fantasy"], min_avg_rating=3.9))
    reply = recommend.SimilarBooks(request)
    assert len(reply.items) == 5 and dropped not in [i.book.id for i in reply.items]
    assert all("Fantasy" in i.book.genres and i.book.avg_rating >= 3.9 for i in reply.items)
    assert len(recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit, k=100)).items) == 100


def test_new_and_deleted_books_reach_the_rankers_signals(served):
    server, channel = served
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
    hobbit = next(b for b in server.services.index.books.values() if b.title.startswith("The Hobbit"))
    sequel = books_pb2.Book(title="The Road Back to Bag End", authors=list(hobbit.authors), genres=list(hobbit.genres),
                            description="Bilbo's nephew retraces the old road east, a generation later.")
    new_id = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[sequel])).ids[0]
    reply = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=new_id, k=10))
    state = server.services.index.state
    assert len(reply.items) == 10 and new_id in state.signals
    pool, _ = reader_row(state.signals, state.finetuned.index, state.finetuned.ranker, new_id)
    assert hobbit.id in pool  # its author's other books join the pool
    catalog.DeleteBook(cs.DeleteBookRequest(id=new_id))
    assert new_id not in server.services.index.state.signals
    for book_id in (hobbit.id, sorted(server.services.index.books)[3]):
        items = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=20)).items
        assert new_id not in [i.book.id for i in items]


def test_text_search_finds_a_new_book_from_what_it_is_about(served):
    """The issue's scenario: a new, unrated book found by a description of it, first."""
    _, channel = served
    catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    book = books_pb2.Book(
        title="The Cartographer of Drowned Zanzibar", authors=["Ilse Marwood"], genres=["Fantasy", "Adventure"],
        description="A clockwork librarian and a young dragon rider search the flooded archives of Zanzibar "
                    "for a stolen star map.")
    new_id = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[book])).ids[0]
    reply = recommend.SearchByText(rs.SearchByTextRequest(query="clockwork librarian dragon rider Zanzibar archives", k=10))
    assert reply.approach == books_pb2.APPROACH_FINETUNED
    assert reply.items[0].book.id == new_id
    assert reply.items[0].score > reply.items[1].score


def test_a_genre_ask_returns_the_genres_best_loved_books(served):
    server, channel = served
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    books = server.services.index.books.values()
    for genre in ("Fantasy", "Mystery", "Romance"):
        items = recommend.SearchByText(rs.SearchByTextRequest(query=f"recommend {genre.lower()} books", k=10)).items
        assert all(genre in i.book.genres for i in items)
        picked = np.median([i.book.list_rank for i in items])  # the starter books have no rating counts
        top = sorted(b.list_rank for b in books if genre in b.genres)[:10]
        assert picked <= 2 * np.median(top) + 10, genre
        baseline = recommend.SearchByText(rs.SearchByTextRequest(
            query=f"recommend {genre.lower()} books", k=10, approach=books_pb2.APPROACH_BASELINE)).items
        assert picked < np.median([i.book.list_rank for i in baseline]), genre
