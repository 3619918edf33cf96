"""'Compare Dune and Foundation': the first split of the phrase whose two sides both resolve,
a question when one side is ambiguous, then a side-by-side comparison."""
from __future__ import annotations

from smartlib_core.domain import Book
from smartlib_server.services.chat import compare as comparing, wording as w
from smartlib_server.services.chat.references import is_focus
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title


def compare(kit: Toolkit, ask: Request, out: Draft) -> None:
    p = out.p
    if not ask.pairs:
        out.text = p.t("compare.which")
        return
    best: tuple[Resolution, Resolution, tuple[str, str]] | None = None
    for a_phrase, b_phrase in ask.pairs:
        a, b = _side(kit, a_phrase), _side(kit, b_phrase)
        if a.kind != "none" and b.kind != "none":
            best = (a, b, (a_phrase, b_phrase))
            if a.kind != "ambiguous" and b.kind != "ambiguous":
                break
    if best is None:
        a_phrase, b_phrase = ask.pairs[0]
        missing = a_phrase if _side(kit, a_phrase).kind == "none" else b_phrase
        if missing[:1] == "#":  # a place past the end of the list on screen
            out.text = p.t("pick.out_of_range")
            return
        out.not_found(missing)
        return
    a, b, (a_phrase, b_phrase) = best
    for side, other, phrase, which in ((a, b, a_phrase, "a"), (b, a, b_phrase, "b")):
        if side.kind == "ambiguous" and other.kind != "ambiguous":
            out.text = w.ambiguous(p, phrase, side.books)
            out.list_books(side.books, p.t("card.choice"))
            out.pending = f"compare:{other.book.id}:{which}"  # which side the pick fills
            return
    if a.kind == "ambiguous":
        out.text = w.ambiguous(p, a_phrase, a.books)
        out.list_books(a.books, p.t("card.choice"))
        return
    compare_books(kit, a.book, b.book, out)


def _side(kit: Toolkit, phrase: str) -> Resolution:
    """One side of a comparison: a title, or the book in focus for "it"."""
    if phrase[:1] == "#" and phrase[1:].lstrip("-").isdigit():  # a place in the list on screen (interpret's "#2")
        book = kit.shown_book(int(phrase[1:]))
        return Resolution("book", (book,)) if book is not None else Resolution("none", ())
    if is_focus(phrase):
        focus = kit.books.get(kit.ctx.focus)
        if focus is not None:
            return Resolution("book", (focus,))
    return kit.resolver.resolve(phrase)


def compare_books(kit: Toolkit, a: Book, b: Book, out: Draft) -> None:
    p = out.p
    if a.id == b.id:
        out.text = p.t("compare.same_book", title=title(a))
        return
    baseline = kit.state.baseline
    result = comparing.compare(a, b, baseline.vector(a.id), baseline.vector(b.id))
    out.text = comparing.render(p, result)
    out.list_books([a, b], p.t("card.compared"))
    out.remember["mentioned_books"] = [a.id, b.id]
