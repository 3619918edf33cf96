"""The lexical index follows the catalog's change log in SQLite and PostgreSQL: a write is
found at once, a delete is gone, a restart rebuilds it and a replica catches up; and through
the RPCs, a word only the new book has answers SearchByText and SearchBooks when UpsertBooks
returns, and nothing once DeleteBook has."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2 as cs,
    catalog_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_core.domain import Book
from smartlib_server.adapters.batched_inference import BatchedInference
from smartlib_server.adapters.catalog_store import postgres_store, sqlite_store
from smartlib_server.services.recommend.serving_index import ServingIndex
from smartlib_server.services.title_search import TitleIndex

RARE = "quillwhistle"


def _book(book_id: str, description: str) -> Book:
    return Book(id=book_id, title=f"Book {book_id}", authors=("Ann Author",), description=description)


def _found(index: ServingIndex, word: str) -> list[str]:
    return [book_id for book_id, _ in index.lexical.search(word, 10)]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request, tmp_path):
    """A function opening (another connection to) one catalog, in either database."""
    if request.param == "sqlite":
        return lambda: sqlite_store(tmp_path / "catalog.sqlite3")
    url = request.getfixturevalue("postgres_url")
    return lambda: postgres_store(url)


def _serving(store) -> ServingIndex:
    index = ServingIndex(store, TitleIndex())
    index.load()
    return index


def test_a_rare_word_is_found_after_the_write_and_gone_after_the_delete(open_store):
    store = open_store()
    store.upsert_books([_book("a", "A plain story about a garden."), _book("b", "Rain over the hills.")])
    index = _serving(store)
    store.upsert_books([_book("c", f"A clockmaker builds a {RARE} for the queen.")])
    index.catch_up()  # what CatalogService's on_change runs before the write returns
    assert _found(index, RARE) == ["c"]
    store.delete_book("c")
    index.catch_up()
    assert _found(index, RARE) == []
    assert _found(index, "garden") == ["a"]
    store.close()


def test_a_restart_rebuilds_it_and_a_replica_catches_up(open_store):
    writer, follower_store = open_store(), open_store()
    writer.upsert_books([_book("a", "A plain story about a garden.")])
    follower = _serving(follower_store)
    writer.upsert_books([_book("r", f"The last {RARE} of the north.")])
    assert _found(follower, RARE) == []  # not applied yet
    assert follower.catch_up() == 1
    assert _found(follower, RARE) == ["r"]
    follower_store.close()
    restarted = _serving(open_store())  # a fresh process: built from the store alone
    assert _found(restarted, RARE) == ["r"]
    writer.delete_book("r")
    restarted.catch_up()
    assert _found(restarted, RARE) == []
    writer.close()


def test_through_the_rpcs_a_rare_word_answers_when_the_write_returns_and_not_after_the_delete(channel):
    # A word the embedder has never seen finds nothing by meaning: only the lexical index,
    # edited before UpsertBooks returns, can put the book first. Each search runs once before
    # the write too, so an answer cached before the write would also fail the test.
    catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    author_word, blurb_word = "Glimmerhorn", RARE

    def by_text() -> list[tuple[str, str]]:
        reply = recommend.SearchByText(rs.SearchByTextRequest(query=f"the {blurb_word}", k=5), timeout=30)
        return [(item.book.id, item.reason) for item in reply.items]

    def by_name() -> list[str]:
        return [book.id for book in catalog.SearchBooks(cs.SearchBooksRequest(query=author_word.lower(), limit=5), timeout=30).books]

    before_text, before_name = by_text(), by_name()
    book = books_pb2.Book(title="The Clockmaker's Gift", authors=[f"Maren {author_word}"], genres=["Fantasy"],
                          description=f"A clockmaker builds a {blurb_word} for the queen of a drowned city.")
    [book_id] = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[book]), timeout=60).ids
    assert book_id not in [found for found, _ in before_text] and book_id not in before_name
    first, reason = by_text()[0]
    assert first == book_id and reason.startswith("matches your words"), reason  # "... and close to ..." when dense finds it too
    assert by_name()[0] == book_id
    catalog.DeleteBook(cs.DeleteBookRequest(id=book_id), timeout=30)
    assert book_id not in [found for found, _ in by_text()]
    assert book_id not in by_name()


def test_with_text_fusion_off_search_by_text_ranks_by_meaning_alone(make_server, starter_settings):
    # SMARTLIB_TEXT_FUSION=false, the switch `make bench` flips for its fused vs dense-only A/B:
    # no answer comes from the words (with fusion on, the test above gets "matches your words"
    # first for the same write and query), while SearchBooks still reads the lexical index's names.
    server = make_server(dataclasses.replace(starter_settings, text_fusion=False))
    with server.channel() as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        book = books_pb2.Book(title="The Clockmaker's Gift", authors=["Maren Glimmerhorn"], genres=["Fantasy"],
                              description=f"A clockmaker builds a {RARE} for the queen of a drowned city.")
        [book_id] = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[book]), timeout=60).ids
        reply = recommend.SearchByText(rs.SearchByTextRequest(query=f"the {RARE}", k=5), timeout=30)
        assert reply.items and all(not item.reason.startswith("matches your words") for item in reply.items)
        found = catalog.SearchBooks(cs.SearchBooksRequest(query="glimmerhorn", limit=5), timeout=30).books
        assert found[0].id == book_id


def test_the_lexical_step_runs_while_the_query_waits_for_its_embedding(make_server, starter_settings, inference):
    # The query batcher's model call is held until the lexical index has been searched (for at
    # most 10 s). Only a server that starts BM25 before waiting for the embedding gets there
    # at once; a lexical step after the embedding would hold the batch the full 10 s.
    batched = BatchedInference(inference, max_wait_s=0.0, cache_bytes=0)  # as served: queries batched
    server = make_server(starter_settings, inference_override=batched)
    searched, order = threading.Event(), []
    lexical, run = server.services.index.lexical, batched.queries.run
    search = lexical.search

    def recorded_search(*args, **kwargs):
        order.append("lexical step")
        searched.set()
        return search(*args, **kwargs)

    def held_batch(items):
        order.append("batch ran" if searched.wait(timeout=10) else "batch gave up waiting")
        return run(items)

    lexical.search, batched.queries.run = recorded_search, held_batch
    with server.channel() as channel:
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        reply = recommend.SearchByText(rs.SearchByTextRequest(query="a lighthouse keeper on a cold island", k=5), timeout=30)
    assert reply.items
    assert order == ["lexical step", "batch ran"], order
