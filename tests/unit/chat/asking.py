"""The one way the chat mechanism tests turn a message into a Request: link it over the given
tables, let `finish` read it with the intent given (no model), and interpret it."""
from __future__ import annotations

from smartlib_server.services.chat.interpret import to_request
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.understand import finish


def ask(catalog, text, intent, confidence=0.9, ranked=(), threshold=0.7, **situation):
    tables, books = catalog
    u = finish(text, intent, confidence, link(text, tables, books), text, ranked or ((intent, confidence),), threshold=threshold)
    return to_request(u, text, "pt" if situation.pop("pt", False) else "en", **situation)
