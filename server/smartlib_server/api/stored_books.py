"""Each served Book's RecommendedItem bytes (api/wire.py's `book_field`) kept in
SMARTLIB_HOME/derived/book-bytes, so a restart's first answers do not encode them.

Right after a restart every SimilarBooks answer holds books not yet encoded: building a Book
message and serialising it cost about 5 us a book, and the varied mix touched 4,600 distinct
books in its first 1,000 calls (README, "Fifth pass"). All 9,880 of the 10k catalog take 0.08 s;
read back from here 16-25 ms, on a worker the moment the start reports SERVING.

A file is named by a key over the stored catalog's key (stored_catalog.catalog_key: every
book's content hash at one change-log position) and the proto descriptor of books.proto, so
another catalog, a write or a changed message simply misses. On restore a spread of books is
encoded again and compared, so bytes from another conversion (book_to_pb changed without the
proto) are refused too; a file that does not hold together is logged and ignored, and the
bytes are built and stored anew. Bytes are only kept for the very Book objects they were read
for, and wire keeps them by Book identity, so a book a write replaces is encoded afresh.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

import numpy as np

from smartlib.v1 import books_pb2
from smartlib_core.domain import Book
from smartlib_server.api import wire
from smartlib_server.services.recommend.derived_index import DerivedIndexStore
from smartlib_server.services.recommend.serving_index import ServingIndex

log = logging.getLogger(__name__)

FORMAT = "smartlib-book-bytes/1"
FOLDER = "book-bytes"  # beside the other derived folders, so none prunes another's files
ARRAYS = ("key", "ids", "data", "starts")
CHECKED = 16  # books encoded again on restore and compared with their stored bytes


def books_key(catalog_key: str) -> str:
    """Names the bytes of the books a stored-catalog key describes, as books.proto encodes them."""
    digest = hashlib.blake2b(f"{FORMAT}\0{catalog_key}\0".encode(), digest_size=20)
    digest.update(books_pb2.DESCRIPTOR.serialized_pb)
    return digest.hexdigest()


def served(index: ServingIndex) -> tuple[DerivedIndexStore, str, Mapping[str, Book]] | None:
    """(where derived files go, the stored-catalog key, the books it describes) of what `index`
    serves, or None: no derived folder or key, or a write applied since the load (the books
    served are then not those the key describes)."""
    if index.derived is None:
        return None
    version = index.version  # before the state: a write bumps it after replacing the books
    books, catalog = index.state.books, index.catalog
    if not catalog.key or catalog.version != version:
        return None
    return index.derived, catalog.key, books


def restore_after_start(derived: DerivedIndexStore, catalog_key: str, books: Mapping[str, Book]) -> None:
    """`restore`, on a worker once SERVING (about 20 ms of CPU for 9,880 books, which before
    SERVING would add to the start; requests meanwhile encode the books they return, equal
    bytes); when none are stored for this catalog, `store`. A failure is logged, never raised:
    the books are then encoded on first use, as without the file."""
    try:
        if not restore(derived, catalog_key, books):
            log.info("stored %d books' bytes for the next start", store(derived, catalog_key, books))
    except Exception:
        log.exception("restoring or storing the books' bytes failed")


def restore(derived: DerivedIndexStore, catalog_key: str, books: Mapping[str, Book]) -> int:
    """Keeps in api/wire the stored bytes of `books` (the books `catalog_key` describes); returns
    how many, 0 when none are stored for that key or the file is unusable (then logged)."""
    if not catalog_key:
        return 0
    key = books_key(catalog_key)
    arrays = DerivedIndexStore(derived.root / FOLDER).load(key, ARRAYS)
    if arrays is None:
        return 0
    try:
        fields = _unpack(key, arrays, books)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        log.warning("ignoring unusable book bytes %s: %s", key, exc)
        return 0
    wire.keep_book_fields(fields)
    return len(fields)


def store(derived: DerivedIndexStore, catalog_key: str, books: Mapping[str, Book]) -> int:
    """Encodes every book of `books` (through wire, so they are kept there too) and stores the
    bytes under `catalog_key`; returns how many. `books` must be the books that key describes."""
    if not catalog_key or not books:
        return 0
    ids = sorted(books)
    fields = [wire.book_field(books[i]) for i in ids]
    key = books_key(catalog_key)
    DerivedIndexStore(derived.root / FOLDER).save(key, {
        "key": np.array(key), "ids": np.array(ids, dtype=str),
        "data": np.frombuffer(b"".join(fields), dtype=np.uint8),
        "starts": np.cumsum([0, *map(len, fields)], dtype=np.int64),
    })
    return len(fields)


def _unpack(key: str, arrays: Mapping[str, np.ndarray], books: Mapping[str, Book]) -> list[tuple[Book, bytes]]:
    if str(arrays["key"]) != key:
        raise ValueError("saved under another key")  # a file copied or renamed by hand
    ids, starts = arrays["ids"].tolist(), arrays["starts"]
    data = arrays["data"].tobytes()
    if len(starts) != len(ids) + 1 or starts[0] != 0 or starts[-1] != len(data) or np.any(np.diff(starts) <= 0):
        raise ValueError("book bytes of inconsistent lengths")
    bounds = starts.tolist()
    fields = [(books[book_id], data[bounds[n]:bounds[n + 1]]) for n, book_id in enumerate(ids)]  # KeyError: another book
    for book, encoded in fields[::max(len(fields) // CHECKED, 1)]:
        if wire.encode_book_field(book) != encoded:
            raise ValueError(f"book {book.id!r} is encoded differently now")
    return fields


__all__ = ["restore", "restore_after_start", "served", "store"]
