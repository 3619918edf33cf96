"""Upserting new books through UpsertBooks (8 concurrent clients, 25 books a call; then one
client's upsert() of them all, as a notebook sends it) against the ingest path (`smartlib
ingest`: CatalogService.write in batches of 256 over a fresh store) with the same embedder, in
the same run. The upserted copies are deleted afterwards."""
from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import time
from pathlib import Path

from smartlib_client import SmartLibrary
from smartlib_core.domain import Book
from smartlib_server.adapters.catalog_store import open_store
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.title_search import TitleIndex

CLIENTS, PER_CALL, INGEST_BATCH = 8, 25, 256


def _copies(books: list[Book], tag: str) -> list[Book]:
    """New ids and titles, so every copy is a new book that must be embedded."""
    return [dataclasses.replace(b, id=f"bench-{tag}-{i}", title=f"{b.title} ({tag} {i})") for i, b in enumerate(books)]


def _as_row(book: Book) -> dict:
    return {"id": book.id, "title": book.title, "authors": list(book.authors), "description": book.description,
            "genres": list(book.genres), "characters": list(book.characters), "avg_rating": book.avg_rating,
            "num_ratings": book.num_ratings, "url": book.url, "series": book.series_name,
            "series_position": book.series_position}


def run(address: str, books: list[Book], inference) -> dict:
    tag = os.urandom(3).hex()
    rows = [_as_row(b) for b in _copies(books, f"up{tag}")]
    chunks = [rows[i : i + PER_CALL] for i in range(0, len(rows), PER_CALL)]
    whole = [_as_row(b) for b in _copies(books, f"nb{tag}")]  # a notebook's one upsert() of them all
    lock = threading.Lock()

    def client_loop() -> None:
        with SmartLibrary(address, timeout=120) as lib:
            while True:
                with lock:
                    if not chunks:
                        return
                    chunk = chunks.pop()
                lib.upsert(chunk)

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    upsert_s = time.perf_counter() - started
    with SmartLibrary(address, timeout=600) as lib:
        started = time.perf_counter()
        lib.upsert(whole)  # the client sends up to 1,000 books a call
        notebook_s = time.perf_counter() - started
        for row in rows + whole:
            lib.delete(row["id"])

    with tempfile.TemporaryDirectory(prefix="smartlib-ingest-bench-") as tmp:
        store = open_store("", Path(tmp) / "catalog.sqlite3")
        try:
            catalog = CatalogService(store, inference, TitleIndex())
            copies = _copies(books, f"in{tag}")
            started = time.perf_counter()
            for start in range(0, len(copies), INGEST_BATCH):
                catalog.write(copies[start : start + INGEST_BATCH])
            ingest_s = time.perf_counter() - started
        finally:
            store.close()
    upsert_rate, ingest_rate, notebook_rate = len(rows) / upsert_s, len(books) / ingest_s, len(whole) / notebook_s
    against = f"the ingest path ({ingest_rate:.1f} books/s, batches of {INGEST_BATCH})"
    return {
        "books": len(books), "upsert_books_per_s": upsert_rate, "ingest_books_per_s": ingest_rate,
        "ratio": upsert_rate / ingest_rate, "notebook_books_per_s": notebook_rate, "notebook_ratio": notebook_rate / ingest_rate,
        "rows": [("UpsertBooks, new books (8 clients x 25 a call)", f"{upsert_rate:.1f} books/s",
                  f"{upsert_rate / ingest_rate:.2f}x {against}"),
                 (f"UpsertBooks, new books (one client upsert() of {len(whole)})", f"{notebook_rate:.1f} books/s",
                  f"{notebook_rate / ingest_rate:.2f}x {against}")],
    }
