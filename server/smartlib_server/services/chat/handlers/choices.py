"""Choosing a book: "the second one" from the list on screen, or the answer to a question the
agent asked ("which Hobbit did you mean?"), which then carries out the waiting action."""
from __future__ import annotations

from rapidfuzz import fuzz

from smartlib_core.domain import Book
from smartlib_core.text import fold
from smartlib_server.services.chat import lexicon
from smartlib_server.services.chat.handlers import compare, like_but
from smartlib_server.services.chat.handlers.authors import list_author
from smartlib_server.services.chat.handlers.books import about, act
from smartlib_server.services.chat.link_tables import static_tables
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title

SPELLING_MIN = 80.0  # a name written as another language spells it: one or two letters differ


def pick(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'The second one': the action a question was waiting for, else the book's facts."""
    book = kit.shown_book(ask.ordinal)
    if book is None:
        out.text = out.p.t("pick.out_of_range")
        return
    resume(kit, book, out)


def resume(kit: Toolkit, book: Book, out: Draft) -> None:
    """Carries out the action the session's question was waiting for, with the book the reader chose."""
    ctx = kit.ctx
    pending = ctx.pending
    if ctx.query and ctx.query.get("mode") == "choice":  # the options not chosen are not what the reader wants either
        out.skip = [i for i, _ in ctx.shown if i != book.id]
    if pending.startswith("like_but:"):
        like_but.resume(kit, pending, book, out)
        return
    if pending.startswith("compare:"):
        _, other_id, side = (pending.split(":") + [""])[:3]
        other = kit.books.get(other_id)
        if other is not None:
            compare.compare_books(kit, *((book, other) if side == "a" else (other, book)), out)
            return
    if pending == "author":  # "which Collins?": the chosen book's author's books
        list_author(kit, kit.resolver.author(book.authors[0]), Request("author", subject=book.authors[0]), out)
        return
    if pending in ("similar", "like", "dislike"):
        act(kit, pending, Resolution("book", (book,)), title(book), out)
    else:
        about(kit, Resolution("book", (book,)), out)


def named_choice(kit: Toolkit, text: str) -> Book | None:
    """The one book of the pending choice the reply names: by its author, its series or a word of
    its title the others lack ("the Dan Brown one", "the Bosch one", "the train one"), else by a
    genre only it has ("the crime one", "o infantil", "the graphic novel")."""
    folded = fold(text)
    words = set(folded.split()) - {"the", "one", "o", "a", "do", "da", "de", "by", "livro", "book"}
    words |= {w[:-1] for w in words if w.endswith("s") and len(w) > 4}  # "Lukyanenko's" folds to "lukyanenkos"
    choices = [kit.books[i] for i, _ in kit.ctx.shown if i in kit.books]
    if not words or len(choices) < 2:
        return None
    common = static_tables().common

    def names(book: Book) -> set[str]:
        """The author's names, the series' and the title's own words ("the Discworld one")."""
        own = {part for part in fold(f"{book.series_name} {book.title}").split() if len(part) > 3} - common
        return {part for author in book.authors for part in fold(author).split() if len(part) > 2} | own

    own = {b.id: names(b) - {n for other in choices if other.id != b.id for n in names(other)} for b in choices}
    hits = [b for b in choices if words & own[b.id]]
    if not hits:  # a name spelt the reader's way: "Sófocles" for Sophocles
        hits = [b for b in choices if any(fuzz.ratio(w, n) >= SPELLING_MIN for w in words for n in own[b.id] if min(len(w), len(n)) >= 5)]
    if not hits:  # a kind of book only one of them is: a genre as readers say it, or a word of its catalog genres
        genres = {genre for _, genre in lexicon.genre_phrases(folded, kit.ctx.language or "en")}
        shelves = {b.id: {w for g in b.genres for w in fold(g).split() if len(w) > 3} for b in choices}
        kinds = {b.id: shelves[b.id] - {w for other in choices if other.id != b.id for w in shelves[other.id]} for b in choices}
        hits = [b for b in choices if genres & set(b.genres) or words & kinds[b.id]]
    return hits[0] if len(hits) == 1 else None
