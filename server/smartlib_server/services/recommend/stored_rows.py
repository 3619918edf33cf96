"""Reader rows kept in SMARTLIB_HOME/derived/reader-rows, so a restart or a new replica serves
them at once instead of spending half a minute of CPU rebuilding them (row_warmer.py).

A file holds every book's kept reader row (the head SimilarRows keeps, ids and scores) for one
catalog and model, named by a key over what the rows are computed from:

- the encoder's fingerprint (its verified manifest, which holds the reader ranker, and what runs it);
- the catalog version (the change-log position): every input of a row (vectors, ratings, genres,
  authors) changes only by a write, which moves it, so a server that followed writes to version
  v and one that loads the store at v hold the same rows, and either's file serves the other;
- the ids of the books served, sorted (a different catalog that happens to stand at the same
  change-log position in the same home);
- the row length the server keeps (max_k + ROW_SLACK).

Beside the rows, each candidate's reason ("same author: ..."): a restored row's first answers
then make none (about 5 us each, most of a first answer's CPU right after a restart), and
answer exactly as the stored row would have (its reasons are the ones made when it was built).
The reasons depend on the books' fields, which change only by a write, so the key covers them.

So rows saved by another encoder, another catalog or another configuration are simply not found.
A file that cannot be read or does not hold together (torn, truncated, foreign) is logged and
ignored, the warmer builds the rows as it would without it, and its pass stores them anew; the
writing itself goes through DerivedIndexStore, to a temporary file renamed into place.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping

import numpy as np

from smartlib_core.domain import Book
from smartlib_server.services.recommend.derived_index import DerivedIndexStore
from smartlib_server.services.recommend.similar_rows import SimilarRow

log = logging.getLogger(__name__)

FORMAT = "smartlib-reader-rows/2"  # 2: with the reasons
ARRAYS = ("key", "ids", "owners", "offsets", "members", "scores", "complete", "reasons", "reason_text", "reason_starts")
FOLDER = "reader-rows"  # beside the index files, so neither prunes the other's (DerivedIndexStore.KEEP)


def rows_store(derived: DerivedIndexStore) -> DerivedIndexStore:
    """The store for reader rows inside the derived folder."""
    return DerivedIndexStore(derived.root / FOLDER)


def rows_key(fingerprint: str, version: int, ids: Iterable[str], row_length: int) -> str:
    """Names the rows ranked by encoder `fingerprint` over the books `ids` at catalog `version`."""
    digest = hashlib.blake2b(f"{FORMAT}\0{fingerprint}\0{version}\0{row_length}\0".encode(), digest_size=20)
    digest.update("\0".join(sorted(ids)).encode())
    return digest.hexdigest()


def pack(key: str, rows: Mapping[str, SimilarRow]) -> dict[str, np.ndarray]:
    """Flat arrays for `rows`: each row's candidates as positions into one id list, and their
    reasons as positions into one table of distinct reasons (one text, cut at `reason_starts`)."""
    position: dict[str, int] = {}
    table: dict[str, int] = {}
    owners, members, scores, complete, offsets, reasons = [], [], [], [], [0], []
    for book_id, row in rows.items():
        owners.append(position.setdefault(book_id, len(position)))
        members.extend(position.setdefault(i, len(position)) for i in row.ids)
        reasons.extend(table.setdefault(r, len(table)) for r in row.reasons())
        scores.append(row.scores)
        complete.append(row.complete)
        offsets.append(len(members))
    return {
        "key": np.array(key), "ids": np.array(list(position), dtype=str),
        "owners": np.asarray(owners, dtype=np.int32), "offsets": np.asarray(offsets, dtype=np.int64),
        "members": np.asarray(members, dtype=np.int32),
        "scores": np.concatenate(scores) if scores else np.zeros(0), "complete": np.asarray(complete, dtype=bool),
        "reasons": np.asarray(reasons, dtype=np.int32),
        "reason_text": np.frombuffer("".join(table).encode(), dtype=np.uint8),
        "reason_starts": np.cumsum([0, *map(len, table)], dtype=np.int64),
    }


def unpack(key: str, arrays: Mapping[str, np.ndarray], books: Mapping[str, Book]) -> dict[str, SimilarRow]:
    """The rows in `arrays`, each answering from `books` with its stored reasons; ValueError
    when they do not hold together or were saved under another key (a file copied or renamed by hand)."""
    if str(arrays["key"]) != key:
        raise ValueError("saved under another key")
    ids, owners, offsets = arrays["ids"].tolist(), arrays["owners"], arrays["offsets"]
    members, scores, complete = arrays["members"], arrays["scores"], arrays["complete"]
    n = len(owners)
    if len(offsets) != n + 1 or len(complete) != n or len(scores) != len(members) or offsets[-1] != len(members):
        raise ValueError("row arrays of inconsistent lengths")
    if n and (offsets[0] != 0 or np.any(np.diff(offsets) < 0)):
        raise ValueError("row offsets out of order")
    for positions in (owners, members):
        if len(positions) and (positions.min() < 0 or positions.max() >= len(ids)):
            raise ValueError("a row names an id position outside the id list")
    codes, starts = arrays["reasons"], arrays["reason_starts"]
    text = arrays["reason_text"].tobytes().decode()  # UnicodeDecodeError is a ValueError
    if len(codes) != len(members):
        raise ValueError("not one reason a candidate")
    if not len(starts) or starts[0] != 0 or starts[-1] != len(text) or np.any(np.diff(starts) < 0):
        raise ValueError("reason table out of order")
    if len(codes) and (codes.min() < 0 or codes.max() >= len(starts) - 1):
        raise ValueError("a reason outside the reason table")
    shared = np.empty(len(ids), dtype=object)  # the ids' own str objects, so the rows share them
    shared[:] = ids
    names = shared[members].tolist()  # one take: 0.02-0.04 s at 10k books, the list comprehension 0.08 s
    found: dict[str, SimilarRow] = {}
    bounds = offsets.tolist()
    for row, owner in enumerate(owners.tolist()):
        book = books.get(ids[owner])
        if book is None:
            continue  # not served (cannot happen at the same catalog version): left to the warmer
        start, end = bounds[row], bounds[row + 1]
        found[book.id] = SimilarRow(names[start:end], scores[start:end], books, None, bool(complete[row]),
                                    _StoredReasons(text, starts, codes[start:end]))
    return found


class _StoredReasons:
    """A row's reasons by position, cut from the shared text when its answer is first built:
    making them all at restore would cost a string object for each of 1.3M candidates (10k
    catalog) before SERVING, most of which no request returns soon."""

    __slots__ = ("_text", "_starts", "_codes")

    def __init__(self, text: str, starts: np.ndarray, codes: np.ndarray) -> None:
        self._text, self._starts, self._codes = text, starts, codes

    def __getitem__(self, position: int) -> str:
        code = self._codes[position]
        return self._text[self._starts[code]:self._starts[code + 1]]


def load(store: DerivedIndexStore, key: str, books: Mapping[str, Book]) -> dict[str, SimilarRow]:
    """The rows stored under `key`; empty when there are none or the file is unusable."""
    arrays = store.load(key, ARRAYS)
    if arrays is None:
        return {}
    try:
        return unpack(key, arrays, books)
    except (ValueError, TypeError, IndexError) as exc:
        log.warning("ignoring unusable reader rows %s: %s", key, exc)
        return {}
