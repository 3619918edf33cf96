"""The catalog store: books, merged-edition aliases, stored vectors and a change log.

One SQL implementation serves both SQLite (the embedded default) and PostgreSQL; the two
differ only in the small `Dialect` of adapters/sql.py, so the same contract tests cover both.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.text import dedupe_key
from smartlib_server.adapters.sql import Cursor, SqlDatabase, open_database, postgres_database, sqlite_database


@dataclasses.dataclass(frozen=True)
class UpsertOutcome:
    ids: tuple[str, ...]  # canonical id per input book, in input order
    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]


# Vectors written together with their books: input book id -> (text hash, vector).
VectorRows = dict[str, tuple[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Change:
    seq: int
    book_id: str
    op: str  # "upsert" | "delete"


class CatalogStore(Protocol):
    """What services need from durable storage. Every write is one transaction."""

    def upsert_books(self, books: Sequence[Book], vectors: VectorRows | None = None, embedder_id: str = "") -> UpsertOutcome: ...
    def stored_text_hashes(self, books: Sequence[Book], embedder_id: str) -> dict[str, str]: ...
    def get_vectors(self, embedder_id: str, ids: Sequence[str]) -> dict[str, np.ndarray]: ...
    def get_books(self, ids: Iterable[str]) -> dict[str, Book]: ...
    def resolve_id(self, book_id: str) -> str | None: ...
    def aliases_of(self, book_id: str) -> list[str]: ...
    def list_books(self, after_id: str, limit: int) -> list[Book]: ...
    def all_books(self) -> list[Book]: ...
    def count_books(self) -> int: ...
    def delete_book(self, book_id: str) -> bool: ...
    def put_vectors(self, embedder_id: str, rows: Sequence[tuple[str, str, np.ndarray]]) -> None: ...
    def load_vectors(self, embedder_id: str) -> tuple[list[str], np.ndarray]: ...
    def embedders(self) -> list[str]: ...
    def vector_hashes(self, embedder_id: str) -> dict[str, str]: ...
    def content_hashes(self) -> dict[str, str]: ...
    def changes_since(self, seq: int) -> list[Change]: ...
    def version(self) -> int: ...
    def integrity_check(self) -> list[str]: ...
    def set_active_version(self, kind: str, version: str) -> None: ...
    def active_versions(self) -> dict[str, str]: ...
    def wait_for_change(self, timeout: float) -> None: ...
    def close(self) -> None: ...


_BOOK_COLUMNS = (
    "id, title, authors, description, genres, characters, avg_rating, num_ratings, url, "
    "series_name, series_position, list_rank"
)


class SqlCatalogStore:
    def __init__(self, db: SqlDatabase):
        self._db = db
        self._tx = db.tx
        self._dialect = db.dialect
        if not db.read_only:  # a read-only store reads a catalog that exists already
            self._create_schema()

    @property
    def db(self) -> SqlDatabase:
        """The database the catalog lives in; interactions and experiments share it."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def wait_for_change(self, timeout: float) -> None:
        """Blocks until another writer signals a change (PostgreSQL) or `timeout` passes."""
        self._db.wait_for_notify(timeout)

    # -- schema --------------------------------------------------------------------------
    def _create_schema(self) -> None:
        d = self._dialect
        statements = [
            """CREATE TABLE IF NOT EXISTS books (
                id TEXT PRIMARY KEY, title TEXT NOT NULL, authors TEXT NOT NULL,
                description TEXT NOT NULL, genres TEXT NOT NULL, characters TEXT NOT NULL,
                avg_rating DOUBLE PRECISION NOT NULL, num_ratings BIGINT NOT NULL, url TEXT NOT NULL,
                series_name TEXT NOT NULL, series_position TEXT NOT NULL, list_rank INTEGER NOT NULL,
                dedupe_key TEXT NOT NULL UNIQUE, content_hash TEXT NOT NULL)""",
            "CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, book_id TEXT NOT NULL)",
            f"""CREATE TABLE IF NOT EXISTS vectors (
                book_id TEXT NOT NULL, embedder_id TEXT NOT NULL, text_hash TEXT NOT NULL,
                dim INTEGER NOT NULL, vector {d.blob} NOT NULL, PRIMARY KEY (book_id, embedder_id))""",
            f"CREATE TABLE IF NOT EXISTS changes (seq {d.serial} PRIMARY KEY, book_id TEXT NOT NULL, op TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS aliases_book ON aliases (book_id)",
            # What every replica should serve; activations write here, followers read it.
            "CREATE TABLE IF NOT EXISTS active_versions (kind TEXT PRIMARY KEY, version TEXT NOT NULL)",
        ]
        with self._db.schema_tx() as cur:
            for statement in statements:
                cur.execute(statement)

    # -- books ---------------------------------------------------------------------------
    def upsert_books(
        self, books: Sequence[Book], vectors: VectorRows | None = None, embedder_id: str = ""
    ) -> UpsertOutcome:
        """Writes books (merging editions) and their new vectors in one transaction."""
        vectors = vectors or {}
        ids: list[str] = []
        created: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        reembedded = False
        with self._tx() as cur:
            for book in books:
                key = dedupe_key(book.title, book.authors[0] if book.authors else "")
                existing_id = self._canonical(cur, book.id, key)
                vector = vectors.get(book.id)
                if existing_id is not None and existing_id != book.id:
                    cur.execute(
                        "INSERT INTO aliases (alias, book_id) VALUES (?, ?) ON CONFLICT (alias) DO UPDATE SET book_id = excluded.book_id",
                        (book.id, existing_id),
                    )
                    book = dataclasses.replace(book, id=existing_id)
                content_hash = book.content_hash()
                if vector is not None:
                    self._put_vector(cur, embedder_id, book.id, vector[0], vector[1])
                if existing_id is None:
                    cur.execute(
                        f"INSERT INTO books ({_BOOK_COLUMNS}, dedupe_key, content_hash) VALUES ({', '.join('?' * 14)})",
                        (*_book_row(book), key, content_hash),
                    )
                    created.append(book.id)
                else:
                    old = cur.one("SELECT content_hash FROM books WHERE id = ?", (book.id,))
                    if old and old[0] == content_hash:
                        unchanged.append(book.id)
                        ids.append(book.id)
                        if vector is not None:  # a re-embed: the served vector changes, so the version moves
                            cur.execute("INSERT INTO changes (book_id, op) VALUES (?, 'upsert')", (book.id,))
                            reembedded = True
                        continue
                    cur.execute(
                        "UPDATE books SET title=?, authors=?, description=?, genres=?, characters=?, avg_rating=?, "
                        "num_ratings=?, url=?, series_name=?, series_position=?, list_rank=?, dedupe_key=?, "
                        "content_hash=? WHERE id=?",
                        (*_book_row(book)[1:], key, content_hash, book.id),
                    )
                    updated.append(book.id)
                cur.execute("INSERT INTO changes (book_id, op) VALUES (?, 'upsert')", (book.id,))
                ids.append(book.id)
            if created or updated or reembedded:
                self._db.notify(cur)
        return UpsertOutcome(tuple(ids), tuple(created), tuple(updated), tuple(unchanged))

    def _canonical(self, cur: Cursor, book_id: str, key: str) -> str | None:
        """The stored book an incoming one belongs to: by id, alias, or as another edition."""
        by_key = cur.one("SELECT id FROM books WHERE dedupe_key = ?", (key,))
        if by_key:
            return by_key[0]  # same title and author: one book, whatever id the caller used
        return self._resolve(cur, book_id)

    def stored_text_hashes(self, books: Sequence[Book], embedder_id: str) -> dict[str, str]:
        """Input book id -> text hash of the vector stored for the book it would be merged into."""
        found: dict[str, str] = {}
        with self._tx() as cur:
            for book in books:
                key = dedupe_key(book.title, book.authors[0] if book.authors else "")
                canonical = self._canonical(cur, book.id, key)
                if canonical is None:
                    continue
                row = cur.one("SELECT text_hash FROM vectors WHERE book_id = ? AND embedder_id = ?", (canonical, embedder_id))
                if row:
                    found[book.id] = row[0]
        return found

    def get_vectors(self, embedder_id: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._tx() as cur:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                for book_id, blob in cur.all(
                    f"SELECT book_id, vector FROM vectors WHERE embedder_id = ? AND book_id IN ({marks})",
                    (embedder_id, *chunk),
                ):
                    out[book_id] = np.frombuffer(bytes(blob), dtype="<f4").copy()
        return out

    def _resolve(self, cur: Cursor, book_id: str) -> str | None:
        row = cur.one("SELECT id FROM books WHERE id = ?", (book_id,))
        if row:
            return row[0]
        row = cur.one("SELECT book_id FROM aliases WHERE alias = ?", (book_id,))
        return row[0] if row else None

    def resolve_id(self, book_id: str) -> str | None:
        with self._tx() as cur:
            return self._resolve(cur, book_id)

    def aliases_of(self, book_id: str) -> list[str]:
        with self._tx() as cur:
            return [r[0] for r in cur.all("SELECT alias FROM aliases WHERE book_id = ?", (book_id,))]

    def get_books(self, ids: Iterable[str]) -> dict[str, Book]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Book] = {}
        with self._tx() as cur:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for row in cur.all(f"SELECT {_BOOK_COLUMNS} FROM books WHERE id IN ({marks})", chunk):
                    book = _row_book(row)
                    found[book.id] = book
        return found

    def list_books(self, after_id: str, limit: int) -> list[Book]:
        with self._tx() as cur:
            rows = cur.all(f"SELECT {_BOOK_COLUMNS} FROM books WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        return [_row_book(r) for r in rows]

    def all_books(self) -> list[Book]:
        with self._tx() as cur:
            return [_row_book(r) for r in cur.all(f"SELECT {_BOOK_COLUMNS} FROM books ORDER BY id")]

    def count_books(self) -> int:
        with self._tx() as cur:
            return int(cur.one("SELECT COUNT(*) FROM books")[0])

    def delete_book(self, book_id: str) -> bool:
        with self._tx() as cur:
            canonical = self._resolve(cur, book_id)
            if canonical is None:
                return False
            cur.execute("DELETE FROM books WHERE id = ?", (canonical,))
            cur.execute("DELETE FROM aliases WHERE book_id = ?", (canonical,))
            cur.execute("DELETE FROM vectors WHERE book_id = ?", (canonical,))
            cur.execute("INSERT INTO changes (book_id, op) VALUES (?, 'delete')", (canonical,))
            self._db.notify(cur)
        return True

    # -- vectors -------------------------------------------------------------------------
    def put_vectors(self, embedder_id: str, rows: Sequence[tuple[str, str, np.ndarray]]) -> None:
        with self._tx() as cur:  # each a change, as a re-embed through upsert_books is
            for book_id, text_hash, vector in rows:
                self._put_vector(cur, embedder_id, book_id, text_hash, vector)
                cur.execute("INSERT INTO changes (book_id, op) VALUES (?, 'upsert')", (book_id,))
            if rows:
                self._db.notify(cur)

    @staticmethod
    def _put_vector(cur: Cursor, embedder_id: str, book_id: str, text_hash: str, vector: np.ndarray) -> None:
        data = np.ascontiguousarray(vector, dtype="<f4")
        cur.execute(
            "INSERT INTO vectors (book_id, embedder_id, text_hash, dim, vector) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (book_id, embedder_id) DO UPDATE SET text_hash = excluded.text_hash, "
            "dim = excluded.dim, vector = excluded.vector",
            (book_id, embedder_id, text_hash, int(data.shape[0]), data.tobytes()),
        )

    def load_vectors(self, embedder_id: str) -> tuple[list[str], np.ndarray]:
        with self._tx() as cur:
            rows = cur.all(
                "SELECT v.book_id, v.dim, v.vector FROM vectors v JOIN books b ON b.id = v.book_id "
                "WHERE v.embedder_id = ? ORDER BY v.book_id",
                (embedder_id,),
            )
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        dim = rows[0][1]
        if any(d != dim or len(blob) != 4 * dim for _, d, blob in rows):
            raise ValueError(f"stored {embedder_id} vectors are not all {dim}-d")
        # One copy of all blobs into a writable buffer, instead of a bytes copy and a row copy each.
        data = bytearray().join(blob for _, _, blob in rows)
        matrix = np.frombuffer(data, dtype="<f4").reshape(len(rows), dim).astype(np.float32, copy=False)
        return [r[0] for r in rows], matrix

    def embedders(self) -> list[str]:
        """The embedder ids the stored vectors come from, the one with most vectors first."""
        with self._tx() as cur:
            rows = cur.all("SELECT embedder_id, COUNT(*) FROM vectors GROUP BY embedder_id ORDER BY COUNT(*) DESC, embedder_id")
        return [r[0] for r in rows]

    def vector_hashes(self, embedder_id: str) -> dict[str, str]:
        with self._tx() as cur:
            return dict(cur.all("SELECT book_id, text_hash FROM vectors WHERE embedder_id = ?", (embedder_id,)))

    def content_hashes(self) -> dict[str, str]:
        """Book id -> the hash of every stored field (Book.content_hash), without reading the books."""
        with self._tx() as cur:
            return dict(cur.all("SELECT id, content_hash FROM books"))

    # -- change log ----------------------------------------------------------------------
    def changes_since(self, seq: int) -> list[Change]:
        with self._tx() as cur:
            rows = cur.all("SELECT seq, book_id, op FROM changes WHERE seq > ? ORDER BY seq", (seq,))
        return [Change(int(s), b, o) for s, b, o in rows]

    def version(self) -> int:
        with self._tx() as cur:
            row = cur.one("SELECT MAX(seq) FROM changes")
        return int(row[0] or 0)

    def set_active_version(self, kind: str, version: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO active_versions (kind, version) VALUES (?, ?) "
                "ON CONFLICT (kind) DO UPDATE SET version = excluded.version",
                (kind, version),
            )
            self._db.notify(cur)

    def active_versions(self) -> dict[str, str]:
        with self._tx() as cur:
            return dict(cur.all("SELECT kind, version FROM active_versions"))

    def integrity_check(self) -> list[str]:
        """Problems found in the stored data; empty when healthy."""
        problems: list[str] = []
        with self._tx() as cur:
            if self._dialect.name == "sqlite":
                result = cur.one("PRAGMA integrity_check")[0]
                if result != "ok":
                    problems.append(f"sqlite integrity_check: {result}")
            orphans = cur.one("SELECT COUNT(*) FROM vectors v LEFT JOIN books b ON b.id = v.book_id WHERE b.id IS NULL")[0]
            if orphans:
                problems.append(f"{orphans} vectors without a book")
            bad = cur.one("SELECT COUNT(*) FROM vectors WHERE LENGTH(vector) != dim * 4")[0]
            if bad:
                problems.append(f"{bad} vectors whose byte length does not match their dimension")
        return problems


def _book_row(book: Book) -> tuple[Any, ...]:
    dump = lambda values: json.dumps(list(values), ensure_ascii=False)  # noqa: E731
    return (
        book.id, book.title, dump(book.authors), book.description, dump(book.genres), dump(book.characters),
        float(book.avg_rating), int(book.num_ratings), book.url, book.series_name, book.series_position,
        int(book.list_rank),
    )


def _row_book(row: Sequence[Any]) -> Book:
    return Book(
        id=row[0], title=row[1], authors=tuple(json.loads(row[2])), description=row[3],
        genres=tuple(json.loads(row[4])), characters=tuple(json.loads(row[5])), avg_rating=float(row[6]),
        num_ratings=int(row[7]), url=row[8], series_name=row[9], series_position=row[10], list_rank=int(row[11]),
    )


def sqlite_store(path: Path, read_only: bool = False) -> SqlCatalogStore:
    return SqlCatalogStore(sqlite_database(path, read_only))


def postgres_store(url: str) -> SqlCatalogStore:
    return SqlCatalogStore(postgres_database(url))


def open_store(database_url: str, sqlite_path: Path) -> SqlCatalogStore:
    return SqlCatalogStore(open_database(database_url, sqlite_path))
