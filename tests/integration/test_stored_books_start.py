"""A start stores every served book's reply bytes after SERVING (api/stored_books.py), and the
next start reads them back from the file: no book is encoded for a request, and the bytes are
the ones the book encodes to."""
from __future__ import annotations

import asyncio
import time

from smartlib_server import server as server_module
from smartlib_server.api import stored_books, wire
from smartlib_server.app import build_services

from .test_start_sequence import WAIT_S, on_a_started_server


def start(settings, inference, then) -> None:
    services = build_services(settings, inference=inference)

    async def scenario(app) -> None:
        await asyncio.wait_for(server_module._prepare(app, seed_starter=False), WAIT_S)
        await asyncio.to_thread(then, services)

    on_a_started_server(settings, services, scenario)


def test_the_next_start_serves_the_stored_book_bytes(starter_settings, inference, monkeypatch):
    folder = starter_settings.home / "derived" / stored_books.FOLDER
    monkeypatch.setattr(wire, "_BOOK_FIELDS", {})

    def stored(services) -> None:
        deadline = time.monotonic() + WAIT_S
        while not list(folder.glob("*.npz")):  # written on a worker once SERVING
            assert time.monotonic() < deadline, "the start stored no book bytes"
            time.sleep(0.05)
    start(starter_settings, inference, stored)

    monkeypatch.setattr(wire, "_BOOK_FIELDS", {})  # a new process
    encoded = []
    encode = wire.book_to_pb
    monkeypatch.setattr(wire, "book_to_pb", lambda book: encoded.append(book.id) or encode(book))
    served = {}

    def ask(services) -> None:
        books = services.index.state.books
        deadline = time.monotonic() + WAIT_S
        while len(wire._BOOK_FIELDS) < len(books):  # read on a worker once SERVING
            assert time.monotonic() < deadline, "the start restored no book bytes"
            time.sleep(0.05)
        checked = len(encoded)  # the restore's comparisons encoded a spread of books
        assert 0 < checked <= stored_books.CHECKED + 1
        encoded.clear()
        served.update({book_id: (book, wire.book_field(book)) for book_id, book in books.items()})
    start(starter_settings, inference, ask)
    assert served and encoded == []  # every book's bytes came from the file...
    assert all(field == wire.encode_book_field(book) for book, field in served.values())  # ... as the book encodes
