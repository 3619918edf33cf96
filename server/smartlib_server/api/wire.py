"""RecommendResponse bytes assembled from each Book's bytes, encoded once per Book.

A response is ten books of about 700 bytes each, and every answer repeats books already sent.
Building the message from Python objects and serialising it cost more than the whole
neighbour-table answer (make bench), so each Book is serialised once (keyed by the Book object:
an updated book is a new object) and a response is those bytes joined with a few tags.
SimilarBooks answers go further: their items are read off kept rows and come back in later
answers, so each item's bytes are kept too, by Recommendation object. The
servicer hands the bytes to gRPC as they are (server.py registers a pass-through serializer).

Only the proto3 wire format is written here, for two messages whose field numbers come from the
generated descriptors; a test checks the bytes equal what the protobuf library serialises from
the same result, -0.0 and NaN scores included.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable

from google.protobuf.descriptor import FieldDescriptor

from smartlib.v1 import books_pb2, recommend_service_pb2
from smartlib_core.domain import Book, Recommendation, RecommendResult
from smartlib_server.api.conversion import approach_to_pb, book_to_pb

_LEN, _I64, _VARINT = 2, 1, 0


def _number(message, name: str, type_: int, repeated: bool = False) -> int:
    """A field's number, read from the generated descriptor, so a renumbered or retyped field in
    the proto fails here at import instead of writing bytes that parse to something else."""
    field = message.DESCRIPTOR.fields_by_name[name]
    # Scalars here must keep proto3's implicit presence: their zero is left out, never written.
    scalar_presence = field.has_presence and type_ != FieldDescriptor.TYPE_MESSAGE
    if field.type != type_ or field.is_repeated != repeated or scalar_presence:
        raise ImportError(f"{message.DESCRIPTOR.full_name}.{name} changed type; update api/wire.py")
    return field.number


_F = FieldDescriptor
_ITEM_BOOK = _number(books_pb2.RecommendedItem, "book", _F.TYPE_MESSAGE)
_ITEM_SCORE = _number(books_pb2.RecommendedItem, "score", _F.TYPE_DOUBLE)
_ITEM_REASON = _number(books_pb2.RecommendedItem, "reason", _F.TYPE_STRING)
_RESPONSE_ITEMS = _number(recommend_service_pb2.RecommendResponse, "items", _F.TYPE_MESSAGE, repeated=True)
_RESPONSE_APPROACH = _number(recommend_service_pb2.RecommendResponse, "approach", _F.TYPE_ENUM)
_RESPONSE_MODEL_VERSION = _number(recommend_service_pb2.RecommendResponse, "model_version", _F.TYPE_STRING)
_RESPONSE_ARM = _number(recommend_service_pb2.RecommendResponse, "arm", _F.TYPE_STRING)
_RESPONSE_RECOMMENDATION_ID = _number(recommend_service_pb2.RecommendResponse, "recommendation_id", _F.TYPE_STRING)

_BOOK_FIELDS: dict[str, tuple[Book, bytes]] = {}
_BOOK_FIELDS_LIMIT = 200_000
# Item bytes of SimilarBooks answers, by Recommendation object: about 300 bytes an entry beside the
# book's bytes it shares, so the bound is about 30 MB. The bench's varied mix over 3,000 books of
# the 10k catalog returns about 63,000 distinct items.
_ITEMS: dict[int, tuple[Recommendation, tuple[bytes, bytes, bytes]]] = {}
_ITEMS_LIMIT = 100_000
_pack_double = struct.Struct("<d").pack
_ZERO_DOUBLE = _pack_double(0.0)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


# Lengths below 2^14 (every reason and item here) are one table lookup instead of a loop.
_SHORT = [_varint(n) for n in range(1 << 14)]
_ITEM_TAG, _SCORE_TAG, _REASON_TAG = _tag(_RESPONSE_ITEMS, _LEN), _tag(_ITEM_SCORE, _I64), _tag(_ITEM_REASON, _LEN)


def _length(n: int) -> bytes:
    return _SHORT[n] if n < 1 << 14 else _varint(n)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _tag(field, _LEN) + _length(len(payload)) + payload


def book_field(book: Book) -> bytes:
    """RecommendedItem's `book` field (tag, length, `book_to_pb(book)` bytes), built once per
    Book object."""
    entry = _BOOK_FIELDS.get(book.id)
    if entry is not None and entry[0] is book:  # the entry holds the Book, so its identity is never reused
        return entry[1]
    encoded = encode_book_field(book)
    if len(_BOOK_FIELDS) >= _BOOK_FIELDS_LIMIT:
        _BOOK_FIELDS.clear()  # a bound, not an eviction policy: catalogs are far smaller
    _BOOK_FIELDS[book.id] = (book, encoded)
    return encoded


def encode_book_field(book: Book) -> bytes:
    """`book_field(book)`, encoded now and not kept."""
    return _length_delimited(_ITEM_BOOK, book_to_pb(book).SerializeToString())


def keep_book_fields(fields: Iterable[tuple[Book, bytes]]) -> None:
    """Keeps `book_field` bytes made ahead (api/stored_books.py), as if each Book had been encoded here."""
    for book, encoded in fields:
        if len(_BOOK_FIELDS) >= _BOOK_FIELDS_LIMIT:
            return
        _BOOK_FIELDS[book.id] = (book, encoded)


def _item(item: Recommendation) -> tuple[bytes, bytes, bytes]:
    """One RecommendedItem as the `items` field of a response: tag and length, the book field,
    then the score and reason fields."""
    book = book_field(item.book)
    # proto3 leaves out a double whose bits are all zero: 0.0, but not -0.0 (NaN is written too).
    packed = _pack_double(item.score)
    score = _SCORE_TAG + packed if packed != _ZERO_DOUBLE else b""
    reason = item.reason.encode()
    rest = score + (_REASON_TAG + _length(len(reason)) + reason if reason else b"")
    return _ITEM_TAG + _length(len(book) + len(rest)), book, rest


def _kept_item(item: Recommendation) -> tuple[bytes, bytes, bytes]:
    """`_item(item)`, encoded once per Recommendation object. The entry holds the object, so its
    id is never reused while the entry lives; a write or a new model gives new rows of new
    objects (services/recommend/similar_rows.py), so nothing older is served after one."""
    entry = _ITEMS.get(id(item))
    if entry is not None and entry[0] is item:
        return entry[1]
    encoded = _item(item)
    if len(_ITEMS) >= _ITEMS_LIMIT:
        _ITEMS.clear()  # a bound, not an eviction policy: a catalog's kept rows hold fewer items
    _ITEMS[id(item)] = (item, encoded)
    return encoded


def recommend_response(result: RecommendResult, arm: str = "", recommendation_id: str = "", kept: bool = False) -> bytes:
    """The serialised RecommendResponse for `result` (items, approach, model_version), with the
    experiment arm and recommendation_id of a RecommendForUser answer when given.

    `kept`: the items are objects that later answers return again (SimilarBooks reads them off
    kept rows), so each item's bytes are kept too, and a later answer only joins them. Answers
    built afresh each time (a text search, a personal ranking) leave it False, so they never
    fill the bound with entries nobody asks for again."""
    encode = _kept_item if kept else _item
    parts = []
    for item in result.items:
        parts += encode(item)
    approach = approach_to_pb(result.approach)
    if approach:
        parts.append(_tag(_RESPONSE_APPROACH, _VARINT) + _varint(approach))
    for field, text in ((_RESPONSE_MODEL_VERSION, result.model_version), (_RESPONSE_ARM, arm),
                        (_RESPONSE_RECOMMENDATION_ID, recommendation_id)):
        if text:
            parts.append(_length_delimited(field, text.encode()))
    return b"".join(parts)
