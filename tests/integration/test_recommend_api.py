"""RecommendService over real gRPC on the starter catalog."""
from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from smartlib.v1 import books_pb2, catalog_service_pb2, catalog_service_pb2_grpc, recommend_service_pb2 as rs, recommend_service_pb2_grpc


def _find(channel, title: str) -> books_pb2.Book:
    stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
    return stub.SearchBooks(catalog_service_pb2.SearchBooksRequest(query=title, limit=1)).books[0]


def _violations(err: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)
    out = {}
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.update({v.field: v.description for v in bad.field_violations})
    return out


def test_books_like_the_hobbit_are_fantasy(channel):
    hobbit = _find(channel, "the hobbit")
    assert hobbit.title.startswith("The Hobbit")
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    reply = stub.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit.id, k=10))
    assert reply.approach == books_pb2.APPROACH_BASELINE
    assert reply.model_version.startswith("baseline:")
    ids = [item.book.id for item in reply.items]
    assert hobbit.id not in ids and len(ids) == 10
    fantasy = sum("Fantasy" in item.book.genres for item in reply.items)
    assert fantasy >= 8, [(i.book.title, list(i.book.genres)) for i in reply.items]
    assert all(item.reason for item in reply.items)
    scores = [item.score for item in reply.items]
    assert scores == sorted(scores, reverse=True)


def test_space_opera_text_query_is_science_fiction(channel):
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    reply = stub.SearchByText(rs.SearchByTextRequest(query="space opera about galactic empires", k=5))
    sci_fi = sum("Science Fiction" in item.book.genres for item in reply.items)
    assert sci_fi >= 4, [(i.book.title, list(i.book.genres)) for i in reply.items]


def test_filter_is_applied(channel):
    dune = _find(channel, "Dune")
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    flt = books_pb2.BookFilter(include_genres=["fantasy"], min_avg_rating=4.0, exclude_ids=[])
    reply = stub.SimilarBooks(rs.SimilarBooksRequest(book_id=dune.id, k=5, filter=flt))
    assert len(reply.items) == 5
    for item in reply.items:
        assert "fantasy" in [g.lower() for g in item.book.genres] and item.book.avg_rating >= 4.0
    excluded = [i.book.id for i in reply.items[:2]]
    again = stub.SimilarBooks(rs.SimilarBooksRequest(book_id=dune.id, k=5, filter=books_pb2.BookFilter(
        include_genres=["fantasy"], min_avg_rating=4.0, exclude_ids=excluded)))
    assert not set(excluded) & {i.book.id for i in again.items}


def test_same_series_is_explained(channel):
    hp1 = _find(channel, "harry potter philosophers stone")
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    reply = stub.SimilarBooks(rs.SimilarBooksRequest(book_id=hp1.id, k=5))
    reasons = {item.book.title: item.reason for item in reply.items}
    series = [t for t, r in reasons.items() if r == "same series: Harry Potter"]
    assert series, reasons


@pytest.mark.parametrize(
    "request_, field",
    [
        (rs.SimilarBooksRequest(book_id="x", k=0), "k"),
        (rs.SimilarBooksRequest(book_id="x", k=101), "k"),
        (rs.SimilarBooksRequest(book_id="", k=5), "book_id"),
        (rs.SimilarBooksRequest(book_id="x", k=5, approach=7), "approach"),
        (rs.SimilarBooksRequest(book_id="x", k=5, filter=books_pb2.BookFilter(min_avg_rating=9)), "filter.min_avg_rating"),
    ],
)
def test_bad_similar_requests_are_invalid_argument(channel, request_, field):
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.SimilarBooks(request_)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in _violations(info.value)


@pytest.mark.parametrize("query, field", [("", "query"), ("   ", "query"), ("x" * 513, "query")])
def test_bad_text_queries_are_invalid_argument(channel, query, field):
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.SearchByText(rs.SearchByTextRequest(query=query, k=5))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in _violations(info.value)


def test_unknown_book_is_not_found(channel):
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.SimilarBooks(rs.SimilarBooksRequest(book_id="gr-does-not-exist", k=5))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "gr-does-not-exist" in info.value.details()


def test_finetuned_without_a_model_is_failed_precondition(channel):
    stub = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    hobbit = _find(channel, "the hobbit")
    with pytest.raises(grpc.RpcError) as info:
        stub.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit.id, k=5, approach=books_pb2.APPROACH_FINETUNED))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "smartlib train" in info.value.details()
