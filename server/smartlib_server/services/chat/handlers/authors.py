"""Authors: "who is Neil Gaiman", "who wrote Dune", and the list of an author's books. Every fact
is a catalog field; the catalog has no biographies, and the answers say so instead of
inventing them.
"""
from __future__ import annotations

import re

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold
from smartlib_server.services.chat import wording as w, words
from smartlib_server.services.chat.handlers.books import act
from smartlib_server.services.chat.lexicon import strip_article
from smartlib_server.services.chat.references import SAME_AUTHOR, is_focus, ordinal_of
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title

_OF = re.compile(rf"^(?:{words.alternation(words.table('pointing')['author_of'])}) ")  # data/words/pointing.yaml


def who_wrote(kit: Toolkit, ask: Request, out: Draft) -> None:
    """An author's facts; for a book or a character ("who is Harry Potter"), the book's."""
    p = out.p
    found, via = _reached(kit, ask.subject)
    if found.kind == "ambiguous":
        ask_which(found, ask.subject, out)
        return
    if found.kind != "author":
        other = kit.resolver.resolve(ask.subject, ask.by)
        if other.kind == "none":
            out.not_found(ask.subject)
        else:
            act(kit, "about", other, ask.subject, out)
        return
    books = list(found.books)
    # "who wrote <title>?": the book the author was reached through leads the cards and stays in focus
    lead = [via] if via in books else []
    best_known = [*lead, *(b for b in books if b not in lead)][:3]
    top_rated = max(books, key=lambda b: (b.avg_rating, b.num_ratings))
    genres = w.common_genres(books[:10], p.language)
    listed = "\n".join(f"- {title(b)}" + stats(b, p.language) for b in best_known)
    mostly = p.t("about.mostly", genres=genres) if genres else ""
    facts = p.t("author.facts", author=found.name, count=w.count(len(books), p.language), mostly=mostly)
    rated = p.t("author.highest_rated", title=title(top_rated), stats=stats(top_rated, p.language))
    out.text = "\n\n".join([facts, f"{p.t('author.best_known')}\n{listed}", rated, p.t("author.no_biography")])
    out.list_books(best_known, p.t("card.by", author=found.name))
    out.focus = best_known[0].id


def list_author(kit: Toolkit, found: Resolution, ask: Request, out: Draft) -> None:
    """The books of a resolved author, best known (or as the ask orders) first, whatever the reader's genres."""
    p = out.p
    read = [kit.resolver.resolve(title) for title in ask.read]  # "any other Vonnegut?" leaves out the one named
    # the book the author was reached through ("what else has he written?" after it, "more from the
    # author of <title>") is one the reader has: the list is of the others
    known = [r.book.id for r in read if r.kind == "book"] + [b.id for b in (_reached(kit, ask.subject)[1],) if b]
    query = {"mode": "author", "author": found.name, "genres": [], "exclude_genres": list(ask.exclude),
             "seen": known, "sort": ask.sort}
    items = kit.run(query, out, use_tastes=False)  # naming an author asks for their books, whatever the genre
    total = len(found.books)
    order = p.t({"rating": "order.rating", "popular": "order.popular"}.get(ask.sort, "order.best_known"))
    left_out = p.t("author.leaving_out", genres=w.labels(ask.exclude, p.language)) if ask.exclude else ""
    intro = p.t("author.list_one" if total == 1 else "author.list", count=w.count(total, p.language), author=found.name,
                left_out=left_out, order=order)
    out.text = w.recommendations(p, items, intro)
    out.remember["mentioned_books"] = [b.id for b, _ in items[:1]]


def resolve_author(kit: Toolkit, phrase: str) -> Resolution:
    """An author by name, "the same author" (of the book in focus), or the author of a title;
    otherwise whatever the phrase resolves to."""
    return _reached(kit, phrase)[0]


def _reached(kit: Toolkit, phrase: str) -> tuple[Resolution, Book | None]:
    """resolve_author's answer, and the book it went through to the author (the book in focus,
    or the title named), None when the phrase names the author."""
    phrase = _OF.sub("", phrase)  # "the author of Dune"
    if SAME_AUTHOR.match(phrase) or is_focus(phrase):
        focus = kit.books.get(kit.ctx.focus)
        if focus is None and kit.ctx.shown:
            focus = kit.books.get(kit.ctx.shown[0][0])
        if focus is not None and focus.authors:
            return kit.resolver.author(focus.authors[0]), focus
        return Resolution("none"), None
    found = kit.resolver.author(phrase, loose=False)
    if found.kind == "author":
        return found, None
    other = kit.resolver.resolve(phrase)
    if found.kind == "ambiguous" and not (other.kind == "book" and _titled(other.book, phrase)):
        return found, None  # a surname several well-read authors share ("collins") asks which, unless a title is it
    if other.kind == "book" and ordinal_of(phrase) == 0:  # "more from the author of Dune"
        return (kit.resolver.author(other.book.authors[0]), other.book) if other.book.authors else (other, None)
    # a whole title outranks an author found inside its words: "the name of the rose" is Eco's book,
    # not an author whose name holds "rose"
    if other.kind in ("none", "ambiguous"):
        loose = kit.resolver.author(phrase)
        found = loose if loose.kind == "author" else found
    return (found if found.kind == "author" else other), None


def _titled(book: Book, phrase: str) -> bool:
    """The book's title is the phrase as typed (no typo, no longer title): "brown" is no "The Crown"."""
    return strip_article(fold(bare_title(book.title))) == strip_article(fold(phrase))


def ask_which(found: Resolution, phrase: str, out: Draft) -> None:
    """Which of the authors sharing a surname: each stands for themselves with their best-known
    book, and the reply ("the second one", "suzanne", "the Woman in White one") lists that author's books."""
    p = out.p
    listed = "\n".join(f"{i}. {w.byline(b, p.language)}" for i, b in enumerate(found.books, 1))
    out.text = p.t("ask.which_author", phrase=phrase, listed=listed)
    out.list_books(found.books, p.t("card.choice"))
    out.pending = "author"
    out.query = {"mode": "choice"}


def stats(book: Book, language: str) -> str:
    """' (4.28★, 3,662,325 ratings)', or '' for a book without a rating."""
    standing = w.standing(book, language)
    return f" ({standing})" if standing else ""
