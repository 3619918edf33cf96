"""Authors and series: "books by Stephen King", "who is Neil Gaiman", "Harry Potter in order",
"what comes after #2". Every fact is a catalog field; the catalog has no biographies or
publication years, and the answers say so instead of inventing them.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from smartlib_core.domain import Book
from smartlib_server.services.chat import asks
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.intents import Intent, is_focus, ordinal_of
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Context, Draft, TurnInput
from smartlib_server.services.chat.wording import title

if TYPE_CHECKING:
    from smartlib_server.services.chat.agent import ChatAgent

SERIES_LISTED = 15  # books named in a series answer; the rest are counted


def books_by(agent: "ChatAgent", intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
    p = out.p
    found = _author(agent, intent.subject, ctx)
    if found.kind == "series":
        _series_answer(found.name, list(found.books), out)
        return
    if found.kind != "author":
        agent.free_text(intent, ctx, turn, out)
        return
    query = {"mode": "author", "author": found.name, "genres": [], "exclude_genres": list(intent.exclude),
             "seen": [], "sort": intent.sort}
    items = agent.run(query, turn, out, use_tastes=False)  # naming an author asks for their books, whatever the genre
    total = len(found.books)
    order = {"rating": p.say("best rated first", "dos mais bem avaliados para os menos"),
             "popular": p.say("most read first", "dos mais lidos para os menos")}.get(intent.sort, p.say("best known first", "dos mais conhecidos primeiro"))
    left_out = ""
    if intent.exclude:
        left_out = p.say(f" leaving out {w.join([w.genre_label(g, 'en') for g in intent.exclude], 'en')},",
                         f" deixando de fora {w.join([w.genre_label(g, 'pt') for g in intent.exclude], 'pt')},")
    intro = p.say(
        f"The catalog has {w.count(total, 'en')} book{'s' if total != 1 else ''} by {found.name}. Here they are,{left_out} {order}:",
        f"O catálogo tem {w.count(total, 'pt')} livro{'s' if total != 1 else ''} de {found.name}. Aqui estão,{left_out} {order}:",
    )
    out.text = w.recommendations(p, items, intro)
    out.remember["mentioned_books"] = [b.id for b, _ in items[:1]]


def author_info(agent: "ChatAgent", intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
    p = out.p
    found = _author(agent, intent.subject, ctx)
    if found.kind != "author":
        other = agent.resolver.resolve(intent.subject)
        if other.kind == "none":
            out.text = w.not_found(p, intent.subject)
        else:  # "who is Harry Potter": a character's book or series
            agent.act("about", other, intent.subject, ctx, turn, out)
        return
    books = list(found.books)
    best_known = books[:3]
    top_rated = max(books, key=lambda b: (b.avg_rating, b.num_ratings))
    genres = w.common_genres(books[:10], p.language)
    listed = "\n".join(f"- {title(b)}" + _stats(b, p.language) for b in best_known)
    facts = p.say(
        f"{found.name}: the catalog has {w.count(len(books), 'en')} of their books" + (f", mostly {genres}" if genres else "") + ".",
        f"{found.name}: o catálogo tem {w.count(len(books), 'pt')} livros dessa autoria" + (f", principalmente {genres}" if genres else "") + ".",
    )
    known = p.say("Best known here:", "Mais conhecidos aqui:")
    rated = p.say(f"Highest rated: {title(top_rated)}{_stats(top_rated, 'en')}.",
                  f"Mais bem avaliado: {title(top_rated)}{_stats(top_rated, 'pt')}.")
    honest = p.say("The catalog holds no biographies, so that is all I can tell you about the person. Want the full list of their books?",
                   "O catálogo não tem biografias, então isso é tudo o que posso dizer sobre a pessoa. Quer a lista completa dos livros?")
    out.text = "\n\n".join([facts, f"{known}\n{listed}", rated, honest])
    out.list_books(best_known, p.say(f"by {found.name}", f"de {found.name}"))
    out.focus = best_known[0].id


def series_order(agent: "ChatAgent", intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
    found = agent.resolver.resolve(intent.subject)
    if found.kind == "book" and found.book.series_name:
        found = Resolution("series", tuple(agent.series_of(found.book)), found.book.series_name)
    if found.kind == "series":
        _series_answer(found.name, list(found.books), out)
    elif found.kind == "author":
        books_by(agent, Intent("author", subject=intent.subject), ctx, turn, out)
    elif found.kind == "ambiguous":
        agent.act("about", found, intent.subject, ctx, turn, out)
    elif found.kind == "book":
        out.text = out.p.say(f"{title(found.book)} is not part of a series in the catalog; it stands alone.",
                             f"{title(found.book)} não faz parte de uma série no catálogo; é um livro único.")
        out.list_books([found.book], out.p.say("the book you asked about", "o livro que você pediu"))
    else:
        out.text = w.not_found(out.p, intent.subject)


def series_next(agent: "ChatAgent", intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
    """'What comes after The Two Towers', 'what comes next after #2', 'qual vem depois?'."""
    p = out.p
    phrase = intent.subject
    position = intent.ordinal if intent.ordinal > 0 else 0
    current: Book | None = None
    if phrase and not position and not is_focus(phrase):
        found = agent.resolver.resolve(phrase)
        if found.kind == "ambiguous":
            agent.act("about", found, phrase, ctx, turn, out)
            return
        if found.kind == "series":
            current = found.books[0] if found.books else None
        elif found.kind == "book":
            current = found.book
        else:
            out.text = w.not_found(p, phrase)
            return
    else:
        current = agent.books.get(ctx.focus)
    if current is None or not current.series_name:
        out.text = p.say(
            "Which series do you mean? Ask, for example, \"what comes after The Two Towers?\".",
            "De qual série você fala? Pergunte, por exemplo, \"o que vem depois de As Duas Torres?\".")
        return
    books = main_entries(agent.series_of(current))
    if position:  # "#2" of the series in focus
        at = [b for b in books if _number(b) == position]
        if not at:
            out.text = p.say(f"The catalog has no book #{position} of {current.series_name}.",
                             f"O catálogo não tem o livro #{position} de {current.series_name}.")
            return
        current = at[0]
    later = [b for b in books if _number(b) > _number(current)]
    out.focus = current.id
    if not later:
        out.text = p.say(f"{title(current)} is the last book of {current.series_name} in the catalog.",
                         f"{title(current)} é o último livro de {current.series_name} no catálogo.")
        out.list_books([current], p.say(f"{current.series_name}", f"{current.series_name}"))
        return
    nxt = later[0]
    out.text = p.say(
        f"After {title(current)} (#{current.series_position}) comes {w.byline(nxt, 'en')} (#{nxt.series_position} of {nxt.series_name})."
        + _stats(nxt, "en", lead=" Rated") + (f" Then {title(later[1])}." if len(later) > 1 else ""),
        f"Depois de {title(current)} (#{current.series_position}) vem {w.byline(nxt, 'pt')} (#{nxt.series_position} de {nxt.series_name})."
        + _stats(nxt, "pt", lead=" Nota") + (f" Em seguida, {title(later[1])}." if len(later) > 1 else ""),
    )
    out.list_books([nxt], p.say(f"#{nxt.series_position} of {nxt.series_name}", f"#{nxt.series_position} de {nxt.series_name}"))
    out.focus = nxt.id


def series_at(agent: "ChatAgent", intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
    """'What is the second book in The Hunger Games?': the book at that place in reading order."""
    p = out.p
    found = agent.resolver.resolve(intent.subject)
    if found.kind == "book" and found.book.series_name:
        found = Resolution("series", tuple(agent.series_of(found.book)), found.book.series_name)
    if found.kind != "series":
        series_order(agent, intent, ctx, turn, out)
        return
    books = main_entries(list(found.books))
    if intent.ordinal < 0:  # "the last book": the highest number, not a prequel listed last
        at = sorted(books, key=_number)[-1:]
    else:
        at = [b for b in books if _number(b) == intent.ordinal] or books[intent.ordinal - 1: intent.ordinal]
    if not at:
        out.text = p.say(f"The catalog has no book #{intent.ordinal} of {found.name}.", f"O catálogo não tem o livro #{intent.ordinal} de {found.name}.")
        return
    book = at[0]
    out.text = p.say(f"Book #{book.series_position} of {found.name} is {w.byline(book, 'en')}.{_stats(book, 'en', lead=' Rated')}",
                     f"O livro #{book.series_position} de {found.name} é {w.byline(book, 'pt')}.{_stats(book, 'pt', lead=' Nota')}")
    out.list_books([book], p.say(f"#{book.series_position} of {found.name}", f"#{book.series_position} de {found.name}"))
    out.focus = book.id


def main_entries(books: list[Book]) -> list[Book]:
    """The numbered books of a series in order, leaving out novellas (#2.5) and box sets (#1-3)."""
    numbered = [b for b in books if _number(b) >= 0]
    seen: set[int] = set()
    ordered = []
    for book in sorted(numbered, key=lambda b: (_number(b), -b.num_ratings, b.list_rank)):
        if _number(book) not in seen:  # two editions of one volume: the better known one
            seen.add(_number(book))
            ordered.append(book)
    # A #0 prequel read less than #1 was most likely written later and is read after the main
    # run (The Ballad of Songbirds and Snakes); one read more is where readers start (The Hobbit).
    if len(ordered) > 1 and _number(ordered[0]) == 0 and ordered[0].num_ratings < ordered[1].num_ratings:
        ordered = [*ordered[1:], ordered[0]]
    return ordered


def _series_answer(name: str, books: list[Book], out: Draft) -> None:
    p = out.p
    main = main_entries(books) or books
    extra = len(books) - len(main)
    authors = w.join(list(dict.fromkeys(a for b in main for a in b.authors[:1]))[:2], p.language)
    lines = [f"{i}. {title(b)} (" + ", ".join(x for x in (f"#{b.series_position}" if b.series_position else "", _stats(b, p.language, bare=True)) if x) + ")"
             for i, b in enumerate(main[:SERIES_LISTED], 1)]
    more = len(main) - SERIES_LISTED
    if more > 0:
        lines.append(p.say(f"...and {more} more.", f"...e mais {more}."))
    head = p.say(f"{name} by {authors}, in reading order (the catalog has {w.count(len(main), 'en')}):",
                 f"{name}, de {authors}, na ordem de leitura (o catálogo tem {w.count(len(main), 'pt')}):")
    tail = []
    if extra > 0:
        tail.append(p.say(f"The catalog also has {w.count(extra, 'en')} companion books or collected editions.",
                          f"O catálogo também tem {w.count(extra, 'pt')} livros complementares ou edições reunidas."))
    tail.append(p.say("Ask \"what comes after #2?\" or \"tell me about the first one\".",
                      "Pergunte \"qual vem depois do 2?\" ou \"fale do primeiro\"."))
    out.text = "\n".join([head, *lines]) + "\n\n" + " ".join(tail)
    listed = [b for b in main[:10] if _number(b) != 0 or b is main[0]]  # a prequel read later stays in the text
    out.cards = [(b, p.say(f"#{b.series_position} of {name}", f"#{b.series_position} de {name}")) for b in listed]
    out.shown = [[b.id, reason] for b, reason in out.cards]
    out.focus = main[0].id if main else ""
    out.pending = "about"


def _author(agent: "ChatAgent", phrase: str, ctx: Context) -> Resolution:
    phrase = re.sub(r"^(?:of|de|do|da|dos|das) ", "", phrase)  # "the author of Dune"
    if asks.SAME_AUTHOR.match(phrase) or is_focus(phrase):
        focus = agent.books.get(ctx.focus)
        if focus is None and ctx.shown:
            focus = agent.books.get(ctx.shown[0][0])
        if focus is not None and focus.authors:
            return agent.resolver.author(focus.authors[0])
        return Resolution("none")
    found = agent.resolver.author(phrase)
    if found.kind == "author":
        return found
    other = agent.resolver.resolve(phrase)
    if other.kind == "book" and ordinal_of(phrase) == 0:  # "more from the author of Dune"
        return agent.resolver.author(other.book.authors[0]) if other.book.authors else other
    return other


def _number(book: Book) -> int:
    """The whole-number position of a main entry; -1 for novellas, box sets and unnumbered books."""
    position = book.series_position.strip()
    return int(position) if position.isdigit() else -1


def _stats(book: Book, language: str, lead: str = "", bare: bool = False) -> str:
    stars = w.rating(book, language)
    if not stars:
        return ""
    if book.num_ratings:
        count = f"{book.num_ratings:,}".replace(",", "." if language == "pt" else ",")
        votes = f" {count} avaliações" if language == "pt" else f" {count} ratings"
        text = f"{stars}★,{votes}"
    else:
        text = f"{stars}★"
    if bare:
        return text
    return f"{lead} {text}." if lead else f" ({text})"
