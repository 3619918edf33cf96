"""The handler table: one handler per intent label (request.LABELS).

A handler is `handler(kit, ask, out)`: it reads the Request's slots, uses the Toolkit (catalog,
recommender, resolver, memory, tastes, session) and writes the answer into the Draft. It never
calls the agent; handlers build on one another only downwards (books <- authors <- series <-
discover <- follow_ups and memory).
"""
from __future__ import annotations

from collections.abc import Callable

from smartlib_server.services.chat.handlers import (
    authors,
    books,
    choices,
    compare,
    discover,
    follow_ups,
    like_but,
    memory,
    series,
    small_talk,
)
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit

Handler = Callable[[Toolkit, Request, Draft], None]

HANDLERS: dict[str, Handler] = {
    "greet": small_talk.greet,
    "thanks_bye": small_talk.thanks_bye,
    "help": small_talk.help_text,
    "about_book": books.about_book,
    "who_wrote": authors.who_wrote,
    "author": discover.books_by,
    "similar": like_but.similar,  # "like X" and "like X but Y" (the Request's modifier)
    "recommend": discover.recommend,
    "best_rated": discover.best_rated,
    "series_order": series.series,
    "series_next": series.series_next,
    "compare": compare.compare,
    "more": follow_ups.more,
    "pick": choices.pick,
    "why": follow_ups.why,
    "reject": follow_ups.reject,
    "refine": follow_ups.refine,
    "taste_like": memory.taste_like,
    "taste_dislike": memory.taste_dislike,
    "memory_show": memory.memory_show,
    "memory_forget": memory.memory_forget,
    "off_topic": discover.off_topic,
    "nonsense": discover.nonsense,
}
