"""RecommendResponse bytes assembled from each Book's bytes, encoded once per Book.

A response is ten books of about 700 bytes each, and every answer repeats books already sent.
Building the message from Python objects and serialising it cost more than the whole
neighbour-table answer (make bench), so each Book is serialised once (keyed by the Book object:
an updated book is a new object) and a response is those bytes joined with a few tags. The
servicer hands the bytes to gRPC as they are (server.py registers a pass-through serializer).

Only the proto3 wire format is written here, for two fixed messages; a test checks the bytes
parse to exactly what the protobuf library builds from the same result.
"""
from __future__ import annotations

import struct

from smartlib_server.api.conversion import approach_to_pb, book_to_pb
from smartlib_server.domain import Book, RecommendResult

_LEN, _I64, _VARINT = 2, 1, 0
_ITEM_BOOK, _ITEM_SCORE, _ITEM_REASON = 1, 2, 3  # RecommendedItem
_RESPONSE_ITEMS, _RESPONSE_APPROACH, _RESPONSE_MODEL_VERSION = 1, 2, 3  # RecommendResponse

_BOOK_FIELDS: dict[str, tuple[Book, bytes]] = {}
_BOOK_FIELDS_LIMIT = 200_000
_pack_double = struct.Struct("<d").pack


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
    encoded = _length_delimited(_ITEM_BOOK, book_to_pb(book).SerializeToString())
    if len(_BOOK_FIELDS) >= _BOOK_FIELDS_LIMIT:
        _BOOK_FIELDS.clear()  # a bound, not an eviction policy: catalogs are far smaller
    _BOOK_FIELDS[book.id] = (book, encoded)
    return encoded


def recommend_response(result: RecommendResult) -> bytes:
    """The serialised RecommendResponse for `result` (items, approach, model_version)."""
    parts = []
    for item in result.items:
        book = book_field(item.book)
        score = _SCORE_TAG + _pack_double(item.score) if item.score else b""  # proto3 leaves zeros out
        reason = item.reason.encode()
        reason = _REASON_TAG + _length(len(reason)) + reason if reason else b""
        parts += (_ITEM_TAG, _length(len(book) + len(score) + len(reason)), book, score, reason)
    approach = approach_to_pb(result.approach)
    if approach:
        parts.append(_tag(_RESPONSE_APPROACH, _VARINT) + _varint(approach))
    if result.model_version:
        parts.append(_length_delimited(_RESPONSE_MODEL_VERSION, result.model_version.encode()))
    return b"".join(parts)
