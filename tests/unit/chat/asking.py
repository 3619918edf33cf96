"""The one way the chat mechanism tests turn a message into a Request: link it over the given
tables, let `finish` read it with the intent given (no model), and interpret it."""
from __future__ import annotations

from smartlib_server.services.chat import link_tables
from smartlib_server.services.chat.interpret import to_request
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.understand import finish


def ask(catalog, text, intent, confidence=0.9, ranked=(), threshold=0.7, **situation):
    tables, books = catalog
    u = finish(text, intent, confidence, link(text, tables, books), text, ranked or ((intent, confidence),), threshold=threshold)
    return to_request(u, text, "pt" if situation.pop("pt", False) else "en", **situation)


def catalog_of(books):
    """Link tables over made-up books, and the books by id: the catalog `ask` and `linked` take."""
    by_id = {b.id: b for b in books}
    return link_tables.build((1, 1, len(by_id)), by_id), by_id


def linked(catalog, text):
    """The (kind, catalog name) of every entity the linker finds in `text`."""
    tables, books = catalog
    return [(e.kind, e.name) for e in link(text, tables, books)]
