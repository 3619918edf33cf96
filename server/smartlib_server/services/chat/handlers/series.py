"""Series: "Harry Potter in order", "what is the second Hunger Games book", "what comes after
The Two Towers". Reading order comes from the catalog's series positions; novellas and box
sets are counted apart.
"""
from __future__ import annotations

from smartlib_core.domain import Book
from smartlib_core.text import fold
from smartlib_server.services.chat import link_tables, wording as w
from smartlib_server.services.chat.handlers.authors import list_author
from smartlib_server.services.chat.handlers.books import act, named
from smartlib_server.services.chat.reading_order import main_entries, number as _number
from smartlib_server.services.chat.references import is_focus
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import Phrasebook, title

SERIES_LISTED = 15  # books named in a series answer; the rest are counted
# "the other books", "os outros", "the rest of the series" (data/roles.yaml)
_OTHER = frozenset(fold(w) for w in link_tables.load_yaml((link_tables.DATA / "roles.yaml").read_text(encoding="utf-8"))["other_words"])


def series(kit: Toolkit, ask: Request, out: Draft) -> None:
    """A series in reading order, or the book at one place in it ("the second Hunger Games book")."""
    if ask.ordinal:
        series_at(kit, ask, out)
    else:
        series_order(kit, ask, out)


def series_order(kit: Toolkit, ask: Request, out: Draft) -> None:
    found = named(kit, ask, out.p.language)
    if found.kind == "book" and found.book.series_name:
        found = Resolution("series", tuple(kit.series_of(found.book)), found.book.series_name)
    elif found.kind == "book" and kit.gathered_series(found.book):
        # a box set is no reading order: the series it gathers is ("the Dark Tower series by King")
        name = kit.gathered_series(found.book)
        found = Resolution("series", tuple(kit.shelf.series(kit.books, kit.version, name)), name)
    if found.kind == "series":
        # "the other books of the series" about the book the talk is on: that one is the reader's already
        have = kit.ctx.focus if is_focus(ask.subject) and _OTHER & set(fold(kit.turn.text).split()) else ""
        series_answer(found.name, list(found.books), out, have)
    elif found.kind == "author":
        list_author(kit, found, Request("author", subject=ask.subject), out)
    elif found.kind == "ambiguous":
        act(kit, "about", found, ask.subject, out)
    elif found.kind == "book":
        out.text = out.p.t("series.stands_alone", title=title(found.book))
        out.list_books([found.book], out.p.t("card.asked_about"))
    else:
        out.not_found(ask.subject)


def series_next(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'What comes after The Two Towers', 'what comes next after #2', 'qual vem depois?'."""
    p = out.p
    phrase = ask.subject
    position = ask.ordinal if ask.ordinal > 0 else 0
    current: Book | None = None
    if phrase and not is_focus(phrase):  # with a position: "I read the first of X, what's next"
        found = kit.resolver.resolve(phrase)
        if found.kind == "ambiguous":
            act(kit, "about", found, phrase, out)
            return
        if found.kind == "series":
            current = found.books[0] if found.books else None
        elif found.kind == "book":
            current = found.book
        else:
            out.not_found(phrase)
            return
    else:
        current = kit.books.get(kit.ctx.focus)
    if current is None or not current.series_name:
        out.text = p.t("series.which")
        return
    books = main_entries(kit.series_of(current))
    if position:  # "#2" of the series in focus
        at = [b for b in books if _number(b) == position]
        if not at:
            out.text = p.t("series.no_such_book", position=position, series=current.series_name)
            return
        current = at[0]
    later = [b for b in books if _number(b) > _number(current)]
    out.focus = current.id
    if not later:
        out.text = p.t("series.last", title=title(current), series=current.series_name)
        out.list_books([current], current.series_name)
        return
    nxt = later[0]
    then = " " + p.t("series.then", title=title(later[1])) if len(later) > 1 else ""
    out.text = p.t("series.after", title=title(current), position=current.series_position, next=w.byline(nxt, p.language),
                   next_position=nxt.series_position, series=nxt.series_name, rated=_rated(p, nxt), then=then)
    out.list_books([nxt], p.t("card.series_position", position=nxt.series_position, series=nxt.series_name))
    out.focus = nxt.id


def series_at(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'What is the second book in The Hunger Games?': the book at that place in reading order."""
    p = out.p
    found = named(kit, ask, out.p.language)
    if found.kind == "book" and found.book.series_name:
        found = Resolution("series", tuple(kit.series_of(found.book)), found.book.series_name)
    elif found.kind == "book" and kit.gathered_series(found.book):
        # a box set is no reading order: the series it gathers is ("the Dark Tower series by King")
        name = kit.gathered_series(found.book)
        found = Resolution("series", tuple(kit.shelf.series(kit.books, kit.version, name)), name)
    if found.kind != "series":
        series_order(kit, ask, out)
        return
    books = main_entries(list(found.books))
    if ask.ordinal < 0:  # "the last book": the highest number, not a prequel listed last
        at = sorted(books, key=_number)[-1:]
    else:
        at = [b for b in books if _number(b) == ask.ordinal] or books[ask.ordinal - 1: ask.ordinal]
    if not at:
        out.text = p.t("series.no_such_book", position=ask.ordinal, series=found.name)
        return
    book = at[0]
    out.text = p.t("series.at", position=book.series_position, series=found.name, book=w.byline(book, p.language), rated=_rated(p, book))
    out.list_books([book], p.t("card.series_position", position=book.series_position, series=found.name))
    out.focus = book.id


def series_answer(name: str, books: list[Book], out: Draft, have: str = "") -> None:
    """The series in reading order; `have`, the book the reader asked for "the other books" of,
    stays in the text's order but gets no card."""
    p = out.p
    main = main_entries(books) or books
    extra = len(books) - len(main)
    authors = w.join(list(dict.fromkeys(a for b in main for a in b.authors[:1]))[:2], p.language)
    lines = []
    for i, b in enumerate(main[:SERIES_LISTED], 1):
        facts = [x for x in (f"#{b.series_position}" if b.series_position else "", w.standing(b, p.language)) if x]
        lines.append(f"{i}. {title(b)} ({', '.join(facts)})")
    more = len(main) - SERIES_LISTED
    if more > 0:
        lines.append(p.t("series.and_more", count=more))
    head = p.t("series.in_order", series=name, authors=authors, count=w.count(len(main), p.language))
    tail = [p.t("series.companions", count=w.count(extra, p.language))] if extra > 0 else []
    tail.append(p.t("series.follow_ups"))
    out.text = "\n".join([head, *lines]) + "\n\n" + " ".join(tail)
    listed = [b for b in main[:10] if (_number(b) != 0 or b is main[0]) and b.id != have]  # a prequel read later stays in the text
    out.cards = [(b, p.t("card.series_position", position=b.series_position, series=name)) for b in listed]
    out.shown = [[b.id, reason] for b, reason in out.cards]
    out.focus = main[0].id if main else ""
    out.pending = "about"


def _rated(p: Phrasebook, book: Book) -> str:
    """' Rated 4.28★, 3,662,325 ratings.' after a sentence naming the book, or ''."""
    standing = w.standing(book, p.language)
    return " " + p.t("series.rated", standing=standing) if standing else ""
