"""One book at a time: tell me about X, books like X, I liked or disliked X."""
from __future__ import annotations

from smartlib_core.text import fold
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.references import is_focus
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title


def target(kit: Toolkit, ask: Request, out: Draft) -> Resolution | None:
    """The book an ask is about: a position in the last list, the book in focus, or a title.
    None when the ask points into a list there is none of (the answer says so). An ordinal with
    no list behind it beside a book named is an adverb, not a place ("tell me about <title>
    first", "what do you know about <title>, first of all"): the book named is the ask."""
    if ask.ordinal:
        book = kit.shown_book(ask.ordinal)
        if book is not None:
            return Resolution("book", (book,))
        if not ask.subject or ask.subject == "it":
            out.text = out.p.t("pick.no_list")
            return None
    return named(kit, ask, out.p.language)


def named(kit: Toolkit, ask: Request, language: str) -> Resolution:
    """The book in focus for "it" and the like, else the title, series or author named. "It" is a
    title in Portuguese when the reader typed it; "it" nobody typed ("e os outros livros da
    série?" names no book) is the book in focus."""
    typed_it = ask.subject == "it" and language == "pt" and "it" in fold(kit.turn.text).split()
    if is_focus(ask.subject) and not typed_it and kit.ctx.focus in kit.books:
        return Resolution("book", (kit.books[kit.ctx.focus],))
    return kit.resolver.resolve(ask.subject, ask.by)


def about_book(kit: Toolkit, ask: Request, out: Draft) -> None:
    found = target(kit, ask, out)
    if found is not None:
        act(kit, "about", found, ask.subject, out)


def similar_plain(kit: Toolkit, ask: Request, out: Draft) -> None:
    found = target(kit, ask, out)
    if found is not None:
        act(kit, "similar", found, ask.subject, out, ask.exclude, ask.sort)


def like_book(kit: Toolkit, ask: Request, out: Draft) -> None:
    found = target(kit, ask, out)
    if found is not None:
        act(kit, "like", found, ask.subject, out, ask.exclude, ask.sort)


def dislike_book(kit: Toolkit, ask: Request, out: Draft) -> None:
    found = target(kit, ask, out)
    if found is not None:
        act(kit, "dislike", found, ask.subject, out)


def act(kit: Toolkit, kind: str, found: Resolution, phrase: str, out: Draft, exclude: tuple[str, ...] = (), sort: str = "") -> None:
    """Answers about, similar, like or dislike for a resolved phrase; asks when it is ambiguous."""
    p = out.p
    if found.kind == "none":
        out.not_found(phrase)
        return
    if found.kind == "ambiguous":
        out.text = w.ambiguous(p, phrase, found.books)
        out.list_books(found.books, p.t("card.choice"))
        out.pending = "similar" if kind in ("similar", "like") else kind
        out.query = {"mode": "choice"}  # "more" now means more of the original ask, not of the choices
        return
    if kind == "about":
        about(kit, found, out)
        return
    book = found.book
    if kind == "dislike":
        out.remember["disliked"] = [book.id]
        out.text = p.t("taste.disliked_book", title=title(book))
        out.focus = book.id
        return
    skip = [b.id for b in found.books] if found.kind != "book" else []
    query = {"mode": "similar", "book": book.id, "genres": [], "exclude_genres": list(exclude), "seen": skip, "sort": sort}
    items = kit.run(query, out, seed_genres=book.genres)
    intro = w.intro_similar(p, book, len(items))
    if kind == "like":
        intro = p.t("taste.liked_book", title=title(book)) + " " + intro
    if found.kind != "book":
        intro = p.t("similar.starting_from", title=title(book), name=found.name) + " " + intro
    out.text = w.recommendations(p, items, intro)
    out.focus = book.id
    out.remember["liked"] = [book.id]  # asking for books like X (or saying you liked it) says the reader likes X


def about(kit: Toolkit, found: Resolution, out: Draft) -> None:
    """A book's facts, a series' books, or an author's books, from catalog fields only."""
    p = out.p
    if found.kind == "book":
        book = found.book
        out.text = w.about_book(p, book, kit.series_of(book))
        out.cards.append((book, p.t("card.asked_about")))
        out.focus = book.id
        out.remember["mentioned_books"] = [book.id]
    elif found.kind == "series":
        out.text = w.about_series(p, found.name, found.books)
        for book in found.books:
            position = f" #{book.series_position}" if book.series_position else ""
            out.cards.append((book, f"{found.name}{position}"))
        out.shown = [[b.id, p.t("card.in_series", series=found.name)] for b in found.books]
        out.pending = "about"
    else:
        out.text = w.about_author(p, found.name, found.books)
        out.list_books(found.books[: kit.page], p.t("card.by", author=found.name))
        out.pending = "about"
