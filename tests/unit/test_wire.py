"""The hand-assembled RecommendResponse bytes must parse to what the protobuf library builds."""
from __future__ import annotations

import dataclasses
import math
import struct

import pytest

from smartlib.v1 import books_pb2, recommend_service_pb2
from smartlib_core.domain import Approach, Book, Recommendation, RecommendResult
from smartlib_server.api import wire
from smartlib_server.api.conversion import approach_to_pb, book_to_pb

BOOKS = [
    Book(id="b1", title="A Wizard's Apprentice", authors=("Ann Example",), description="x" * 300,
         genres=("Fantasy", "Magic"), characters=("Ged",), avg_rating=4.2, num_ratings=123456,
         url="https://example.org/b1", series_name="Isles", series_position="1", list_rank=0),
    Book(id="b2", title="Ünïcode — tïtle", authors=("Bé",), list_rank=-1),  # sparse, non-ASCII
    Book(id="b3", title="Long", authors=("C",), description="d" * 5000),  # multi-byte length varint
]


def expected(result: RecommendResult, arm: str = "", recommendation_id: str = "") -> recommend_service_pb2.RecommendResponse:
    return recommend_service_pb2.RecommendResponse(
        items=[books_pb2.RecommendedItem(book=book_to_pb(i.book), score=i.score, reason=i.reason) for i in result.items],
        approach=approach_to_pb(result.approach), model_version=result.model_version,
        arm=arm, recommendation_id=recommendation_id,
    )


@pytest.mark.parametrize("scores", [
    (0.93, -0.25, 1e-9), (0.0, 0.5, 2.0), (-0.0, 0.0, -1.0), (math.nan, -math.inf, 5e-324), (-math.nan, math.inf, -0.0),
])
def test_bytes_equal_what_the_library_serialises(scores):
    items = tuple(Recommendation(book, score, reason) for book, score, reason in
                  zip(BOOKS, scores, ("same series: Isles", "", "shares genres: Ünïcode"), strict=True))
    result = RecommendResult(items, Approach.FINETUNED, "finetuned:encoder:v1@catalog-7")
    encoded = wire.recommend_response(result)
    assert encoded == expected(result).SerializeToString()  # same field order, same omissions, same bits
    parsed = recommend_service_pb2.RecommendResponse.FromString(encoded)
    for item, score in zip(parsed.items, scores, strict=True):  # by bits: NaN != NaN and -0.0 == 0.0 as floats
        assert struct.pack("<d", item.score) == struct.pack("<d", score)


@pytest.mark.parametrize(("arm", "recommendation_id"), [("new", "3f2a9c"), ("", "3f2a9c"), ("default", ""), ("ärm", "x" * 200)])
def test_a_personal_answer_carries_its_arm_and_recommendation_id(arm, recommendation_id):
    items = tuple(Recommendation(book, 0.5, "because you liked Isles") for book in BOOKS)
    result = RecommendResult(items, Approach.FINETUNED, "finetuned:encoder:v1+cf@12+readers")
    encoded = wire.recommend_response(result, arm=arm, recommendation_id=recommendation_id)
    assert encoded == expected(result, arm, recommendation_id).SerializeToString()


def test_negative_zero_is_written_as_the_library_writes_it():
    result = RecommendResult((Recommendation(BOOKS[1], -0.0, ""),), Approach.BASELINE, "")
    assert wire.recommend_response(result) == expected(result).SerializeToString()
    assert math.copysign(1.0, recommend_service_pb2.RecommendResponse.FromString(
        wire.recommend_response(result)).items[0].score) == -1.0


def test_field_numbers_come_from_the_descriptors():
    item = books_pb2.RecommendedItem.DESCRIPTOR.fields_by_name
    response = recommend_service_pb2.RecommendResponse.DESCRIPTOR.fields_by_name
    assert (wire._ITEM_BOOK, wire._ITEM_SCORE, wire._ITEM_REASON) == tuple(item[n].number for n in ("book", "score", "reason"))
    names = ("items", "approach", "model_version", "arm", "recommendation_id")
    assert (wire._RESPONSE_ITEMS, wire._RESPONSE_APPROACH, wire._RESPONSE_MODEL_VERSION, wire._RESPONSE_ARM,
            wire._RESPONSE_RECOMMENDATION_ID) == tuple(response[n].number for n in names)
    # wire.py writes every field of both messages: a new one fails here.
    assert set(item) == {"book", "score", "reason"}
    assert set(response) == set(names)


def test_a_retyped_field_fails_at_import():
    from google.protobuf.descriptor import FieldDescriptor

    with pytest.raises(ImportError, match="score changed type"):
        wire._number(books_pb2.RecommendedItem, "score", FieldDescriptor.TYPE_FLOAT)
    with pytest.raises(ImportError, match="items changed type"):
        wire._number(recommend_service_pb2.RecommendResponse, "items", FieldDescriptor.TYPE_MESSAGE)


def test_empty_result_and_baseline():
    result = RecommendResult((), Approach.BASELINE, "")
    assert recommend_service_pb2.RecommendResponse.FromString(wire.recommend_response(result)) == expected(result)


def test_book_fields_follow_a_changed_book():
    def title(field: bytes) -> str:
        return books_pb2.RecommendedItem.FromString(field).book.title

    book = BOOKS[0]
    first = wire.book_field(book)
    assert wire.book_field(book) is first  # encoded once
    changed = dataclasses.replace(book, title="Renamed")
    assert title(wire.book_field(changed)) == "Renamed"
    assert title(wire.book_field(book)) == book.title


def _items(books, reason="shares genres: Fantasy"):
    return tuple(Recommendation(book, 0.9 - i / 10, reason) for i, book in enumerate(books))


def test_kept_items_give_the_bytes_of_fresh_ones():
    items = _items(BOOKS)
    result = RecommendResult(items, Approach.FINETUNED, "finetuned:encoder:v1@catalog-7")
    fresh = wire.recommend_response(result)
    assert fresh == expected(result).SerializeToString()
    assert wire.recommend_response(result, kept=True) == fresh  # encodes and keeps
    assert wire.recommend_response(result, kept=True) == fresh  # from the kept bytes
    fewer = RecommendResult(items[1:], Approach.FINETUNED, "finetuned:encoder:v1@catalog-7")
    assert wire.recommend_response(fewer, kept=True) == expected(fewer).SerializeToString()


def test_a_kept_item_never_outlives_its_book():
    """After an upsert the rows hold new Recommendation objects for the new Book: their bytes, not
    the old book's, even though the id, score and reason are the same."""
    old = _items(BOOKS[:1])
    wire.recommend_response(RecommendResult(old, Approach.FINETUNED, "m@catalog-7"), kept=True)
    renamed = (Recommendation(dataclasses.replace(BOOKS[0], title="A Wizard's Apprentice (Revised)"), old[0].score, old[0].reason),)
    result = RecommendResult(renamed, Approach.FINETUNED, "m@catalog-8")
    assert wire.recommend_response(result, kept=True) == expected(result).SerializeToString()


def test_kept_items_are_bounded(monkeypatch):
    monkeypatch.setattr(wire, "_ITEMS", {})
    monkeypatch.setattr(wire, "_ITEMS_LIMIT", 4)
    for _ in range(3):  # new objects each time, as answers built afresh would be
        wire.recommend_response(RecommendResult(_items(BOOKS), Approach.FINETUNED, ""), kept=True)
        assert len(wire._ITEMS) <= 4
    answer = RecommendResult(_items(BOOKS), Approach.FINETUNED, "")
    assert wire.recommend_response(answer) == wire.recommend_response(answer, kept=True)
    assert wire.recommend_response(answer) == wire.recommend_response(answer, kept=True)
