"""What a start derives from the catalog's rows, kept in SMARTLIB_HOME/derived/catalog, so a
restart reads one file instead of every 2688-d vector from SQL and rebuilding from them.

On the trained 10k home these were about 1 s of a start's CPU (README, Performance): reading
the vectors (0.33 s of thread CPU on the loaded host), normalising them (0.26 s), hashing them
all for the FINETUNED file's key (0.12 s), hashing every book's words for the lexical index's
key (0.18 s) and filling the reader ranker's signal table (0.24 s). Since format 2 it also
keeps the 384-d text view of the unit vectors (embedding.text_view, 0.05-0.08 s at 10k books).

The file is named by the catalog key, which a start computes from small columns alone:

- the catalog version (the change-log position): every write moves it, a re-embed of an
  unchanged book's text included (catalog_store.upsert_books);
- every book's id and content hash (the hash of all its stored fields), so another catalog
  that stands at the same change-log position, or a row changed behind the log, misses;
- every stored vector's book id and text hash for the served embedder id, so a vector for
  other text misses too.

A key is only handed out when the version did not move while the columns were read, and the
caller saves only when it did not move while the data was read either, so a file never holds
data of another version than its name. A file that cannot be read or does not hold together
(torn, truncated, bit-flipped: np.load checks each array's CRC) is logged and ignored; the
start then builds as without it and stores it anew. Writing goes through DerivedIndexStore
(temporary file, then rename), so a crash leaves the old file or the new one, never half.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging

import numpy as np

from smartlib_core.embedding import BLOCK_DIM
from smartlib_core.packed_text import joined, split
from smartlib_core.reader_ranking import SignalTable
from smartlib_server.adapters.catalog_store import CatalogStore
from smartlib_server.services.recommend.derived_index import DerivedIndexStore

log = logging.getLogger(__name__)

FORMAT = "smartlib-catalog/2"  # 2: with the text view
FOLDER = "catalog"  # its own folder, so its pruning and the other derived files' never drop each other's
SIGNALS = "signals_"  # prefix of the signal table's arrays in the file


@dataclasses.dataclass(frozen=True)
class CatalogKey:
    version: int  # the change-log position the key describes
    key: str  # "" when a write moved the version while the key was read: nothing is stored or reused


@dataclasses.dataclass(frozen=True)
class StoredCatalog:
    ids: list[str]  # the books with vectors, in load_vectors' order
    unit: np.ndarray  # (n, 2688) float32, each row normalised
    view: np.ndarray  # (n, 384) float32: embedding.text_view(unit), what text search scans
    signals: SignalTable


def catalog_key(store: CatalogStore, embedder_id: str) -> CatalogKey:
    """The key of what `store` holds now; about 20 ms for 10k books (no text, no vector read)."""
    version = store.version()
    books, vectors = store.content_hashes(), store.vector_hashes(embedder_id)
    if store.version() != version:
        return CatalogKey(version, "")
    digest = hashlib.blake2b(f"{FORMAT}\0{embedder_id}\0{version}\0".encode(), digest_size=20)
    digest.update("\0".join(f"{book_id}\0{books[book_id]}" for book_id in sorted(books)).encode())
    digest.update(b"\0\0")
    digest.update("\0".join(f"{book_id}\0{vectors[book_id]}" for book_id in sorted(vectors)).encode())
    return CatalogKey(version, digest.hexdigest())


def folder(derived: DerivedIndexStore) -> DerivedIndexStore:
    return DerivedIndexStore(derived.root / FOLDER)


def load(derived: DerivedIndexStore, key: str) -> StoredCatalog | None:
    """What was stored under `key`, or None (none stored, or unusable: then logged)."""
    arrays = folder(derived).load(key, mapped=("unit", "view"))  # FAISS copies them: no copy of our own
    if arrays is None:
        return None
    try:
        if str(arrays["key"]) != key:
            raise ValueError("saved under another key")  # a file copied or renamed by hand
        ids, unit, view = split(arrays["ids"]), arrays["unit"], arrays["view"]
        if unit.dtype != np.float32 or unit.ndim != 2 or len(unit) != len(ids) or len(set(ids)) != len(ids):
            raise ValueError("stored vectors do not match their ids")
        if view.dtype != np.float32 or view.shape != (len(ids), BLOCK_DIM):
            raise ValueError("the stored text view does not match the vectors")
        signals = SignalTable.restore({k[len(SIGNALS):]: v for k, v in arrays.items() if k.startswith(SIGNALS)})
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        log.warning("ignoring unusable stored catalog %s: %s", key, exc)
        return None
    return StoredCatalog(ids, unit, view, signals)


def save(derived: DerivedIndexStore, key: str, ids: list[str], unit: np.ndarray, view: np.ndarray,
         signals: SignalTable) -> None:
    """Stores what `load` returns for `key` (a failure is logged: the next start builds again)."""
    if any("\0" in book_id for book_id in ids):
        log.warning("catalog not stored: a book id holds a NUL character")
        return
    try:
        arrays = {"key": np.array(key), "ids": joined(ids), "unit": np.ascontiguousarray(unit, dtype=np.float32),
                  "view": np.ascontiguousarray(view, dtype=np.float32)}
        arrays.update({SIGNALS + name: array for name, array in signals.snapshot().items()})
    except UnicodeEncodeError as exc:  # an id that cannot be stored as UTF-8
        log.warning("catalog not stored: %s", exc)
        return
    folder(derived).save(key, arrays)
