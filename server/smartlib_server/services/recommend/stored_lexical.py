"""The built lexical (BM25) index kept in SMARTLIB_HOME/derived/lexical, so a restart restores it
instead of analysing every book's words again (0.57 s of CPU for the 10k catalog, against 0.09 s
to restore it; README, "Versions").

A file is named by a key over exactly what the index is built from:

- every served book's id and the text of its fields (lexical.book_fields), in the order the
  index was filled, so any write that changes a word, and any other catalog, misses; or,
  when the start has one, the catalog key (stored_catalog.py), which stands for exactly that;
- the bytes of lexical.py (the analyser: folding, stopwords, the fields' scoring) and the
  Unicode data version that folding uses, so a changed analyser misses too.

A file that cannot be read or does not hold together is logged and ignored, the index is built
as without it, and stored anew. Writing goes through DerivedIndexStore (temporary file, rename).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from smartlib_core import lexical
from smartlib_core.domain import Book
from smartlib_core.lexical import LexicalIndex, book_fields
from smartlib_server.services.recommend.derived_index import DerivedIndexStore

log = logging.getLogger(__name__)

FORMAT = b"smartlib-lexical/1"
FOLDER = "lexical"  # its own folder, so its pruning and the index files' never drop each other's


@functools.cache
def _analyser_digest() -> bytes:
    digest = hashlib.blake2b(Path(lexical.__file__).read_bytes(), digest_size=20)
    digest.update(unicodedata.unidata_version.encode())
    return digest.digest()


def lexical_key(books: Iterable[Book], catalog: str = "") -> str:
    """Names the index built from `books`, in this order, by this analyser. `catalog`, a
    stored_catalog key of exactly these books in id order (it covers every field's content),
    stands for their words, which then need not be hashed (0.18 s of a 10k start)."""
    digest = hashlib.blake2b(FORMAT, digest_size=20)
    digest.update(_analyser_digest())
    if catalog:
        digest.update(f"catalog\0{catalog}".encode())
        return digest.hexdigest()
    parts: list[str] = []
    for book in books:
        parts += (book.id, *book_fields(book))
    digest.update("\0".join(parts).encode())
    return digest.hexdigest()


def lexical_index(derived: DerivedIndexStore | None, books: list[Book], reuse: bool = True,
                  catalog: str = "") -> LexicalIndex:
    """The lexical index over `books`: restored from `derived` when built from these exact
    inputs before (unless `reuse` is False), else built, and then stored there. `catalog`:
    as for lexical_key."""
    store = DerivedIndexStore(derived.root / FOLDER) if derived is not None else None
    key = lexical_key(books, catalog) if store is not None else ""
    if store is not None and reuse:
        restored = _restore(store, key)
        if restored is not None:
            return restored
    index = LexicalIndex()
    index.upsert(books)
    if store is not None:
        try:
            store.save(key, {"key": np.array(key), **index.snapshot()})
        except ValueError as exc:  # an id that cannot be stored (a NUL): the next start builds it again
            log.warning("lexical index not stored: %s", exc)
    return index


def _restore(store: DerivedIndexStore, key: str) -> LexicalIndex | None:
    arrays = store.load(key)
    if arrays is None:
        return None
    try:
        if str(arrays.pop("key")) != key:
            raise ValueError("saved under another key")
        return LexicalIndex.restore(arrays)
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as exc:
        log.warning("ignoring unusable stored lexical index %s: %s", key, exc)
        return None
