"""CatalogService over real gRPC, and writes reaching recommendations without a restart."""
from __future__ import annotations

import grpc
import pytest

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2 as cs,
    catalog_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)

from .test_recommend_api import _violations


@pytest.fixture
def catalog(channel):
    return catalog_service_pb2_grpc.CatalogServiceStub(channel)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("harry potter and the philosophers stone", "Harry Potter and the Philosopher's Stone"),
        ("HARRY POTTER & THE PHILOSOPHER'S STONE", "Harry Potter and the Philosopher's Stone"),
        ("Harry Poter philosopher stone", "Harry Potter and the Philosopher's Stone"),
        ("the hobit", "The Hobbit"),
        ("dune", "Dune"),
        ("tolkien", None),
    ],
)
def test_search_books_is_forgiving(catalog, query, expected):
    books = catalog.SearchBooks(cs.SearchBooksRequest(query=query, limit=5)).books
    assert books, query
    if expected is None:
        assert all("J.R.R. Tolkien" in b.authors for b in books)
    else:
        assert books[0].title.startswith(expected), [b.title for b in books]


def test_get_and_list(catalog):
    first = catalog.ListBooks(cs.ListBooksRequest(page_size=120))
    assert len(first.books) == 120 and first.next_page_token
    second = catalog.ListBooks(cs.ListBooksRequest(page_size=500, page_token=first.next_page_token))
    assert len(second.books) == 180 and second.next_page_token == ""
    ids = [b.id for b in first.books] + [b.id for b in second.books]
    assert len(set(ids)) == 300
    assert catalog.GetBook(cs.GetBookRequest(id=ids[7])).id == ids[7]


@pytest.mark.parametrize(
    "call, request_, code, field",
    [
        ("GetBook", cs.GetBookRequest(id="nope"), grpc.StatusCode.NOT_FOUND, None),
        ("GetBook", cs.GetBookRequest(id=""), grpc.StatusCode.INVALID_ARGUMENT, "id"),
        ("DeleteBook", cs.DeleteBookRequest(id="nope"), grpc.StatusCode.NOT_FOUND, None),
        ("ListBooks", cs.ListBooksRequest(page_size=-1), grpc.StatusCode.INVALID_ARGUMENT, "page_size"),
        ("ListBooks", cs.ListBooksRequest(page_token="garbage!"), grpc.StatusCode.INVALID_ARGUMENT, "page_token"),
        ("SearchBooks", cs.SearchBooksRequest(query=""), grpc.StatusCode.INVALID_ARGUMENT, "query"),
        ("SearchBooks", cs.SearchBooksRequest(query="x", limit=1000), grpc.StatusCode.INVALID_ARGUMENT, "limit"),
        ("UpsertBooks", cs.UpsertBooksRequest(), grpc.StatusCode.INVALID_ARGUMENT, "books"),
        ("UpsertBooks", cs.UpsertBooksRequest(books=[books_pb2.Book(title="No author")]),
         grpc.StatusCode.INVALID_ARGUMENT, "books[0].authors"),
        ("UpsertBooks", cs.UpsertBooksRequest(books=[books_pb2.Book(title="T", authors=["A"], avg_rating=11)]),
         grpc.StatusCode.INVALID_ARGUMENT, "books[0].avg_rating"),
    ],
)
def test_caller_mistakes(catalog, call, request_, code, field):
    with pytest.raises(grpc.RpcError) as info:
        getattr(catalog, call)(request_)
    assert info.value.code() == code
    if field:
        assert field in _violations(info.value)


def test_upsert_is_visible_to_recommendations_and_delete_removes_it(catalog, channel):
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    new = books_pb2.Book(
        title="The Dragon Archivist of Velmoor", authors=["Test Author"],
        description="A young archivist discovers that the dragons of her mountain kingdom kept a secret library of spells.",
        genres=["Fantasy", "Magic", "Dragons"],
    )
    reply = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[new]))
    assert reply.created == 1 and len(reply.ids) == 1
    book_id = reply.ids[0]
    again = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[new]))
    assert again.unchanged == 1 and list(again.ids) == [book_id]
    found = catalog.SearchBooks(cs.SearchBooksRequest(query="dragon archivist velmoor", limit=1)).books
    assert found and found[0].id == book_id
    similar = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=5))
    assert len(similar.items) == 5 and book_id not in [i.book.id for i in similar.items]
    hits = recommend.SearchByText(rs.SearchByTextRequest(query="an archivist and a secret library of dragon spells", k=5))
    assert book_id in [i.book.id for i in hits.items]
    catalog.DeleteBook(cs.DeleteBookRequest(id=book_id))
    with pytest.raises(grpc.RpcError) as info:
        recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=5))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    hits = recommend.SearchByText(rs.SearchByTextRequest(query="an archivist and a secret library of dragon spells", k=5))
    assert book_id not in [i.book.id for i in hits.items]
