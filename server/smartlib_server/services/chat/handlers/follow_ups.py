"""Follow-ups on the list on screen: "more", "not like that", "something shorter", "why?",
and narrowing it ("no romance", "best rated first")."""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from rapidfuzz import fuzz

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold
from smartlib_server.services.chat import lexicon, link_tables, wording as w
from smartlib_server.services.chat.handlers import discover
from smartlib_server.services.chat.ordering import length_proxy
from smartlib_server.services.chat.references import BY_PERSON
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title

_MORE = frozenset(fold(x) for x in link_tables.load_yaml((link_tables.DATA / "roles.yaml").read_text(encoding="utf-8"))["more_words"])


def refine(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'No romance', 'best rated first', 'something shorter': the last list's ask again, narrowed
    or re-ordered; without a list, a new ask."""
    p = out.p
    ctx = kit.ctx
    if ask.modifier == "shorter":
        _follow_up(kit, "shorter", out)
        return
    if not ctx.query or ctx.query.get("mode") == "choice":
        discover.recommend(kit, dataclasses.replace(ask, kind="recommend"), out)
        return
    query = dict(ctx.query)
    query["exclude_genres"] = list(dict.fromkeys([*query.get("exclude_genres", []), *ask.exclude]))
    query["sort"] = ask.sort or query.get("sort", "")
    # narrowed, the list on screen may stay; asked for more of it, narrowed, it is left out as "more" leaves it
    more = bool(_MORE & set(fold(kit.turn.text).split())) and not ask.sort
    query["seen"] = list(dict.fromkeys([*query.get("seen", []), *(i for i, _ in ctx.shown)])) if more else []
    # a genre named of the list ("any of those set in the war?", "só os de fantasia desses") narrows it to that genre too
    added = [g for g in ask.genres if g not in query.get("genres", []) and g not in query["exclude_genres"]]
    if added:
        query["genres"] = [*query.get("genres", []), *added]
        if query["mode"] == "text":
            query["text"], query["every"] = " ".join([query.get("text", ""), *added]).strip(), True
    if query["sort"] and query["mode"] == "text" and not query.get("book"):
        query["mode"] = "ranked" if query.get("genres") else query["mode"]
    items = kit.run(query, out)
    changes = [p.t("like_but.in", genres=w.labels(added, p.language))] if added else []
    if ask.exclude:
        changes.append(p.t("like_but.without", genres=w.labels(ask.exclude, p.language)))
    if ask.sort:
        changes.append(p.t("order.rating" if ask.sort == "rating" else "order.popular"))
    out.text = w.recommendations(p, items, p.t("refine.same_ask", changes=w.join(changes, p.language)))

def more(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'More': the same ask again, leaving out what was shown; more of a person ("others of hers")
    after a book that was no author's list is that book's author's other books."""
    if kit.ctx.focus in kit.books and (kit.ctx.query or {}).get("mode") != "author" and BY_PERSON.search(fold(kit.turn.text)):
        discover.books_by(kit, dataclasses.replace(ask, kind="author", subject="same author"), out)
        return
    _follow_up(kit, "more", out)


def reject(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'Not like that': the same ask without the books shown and their dominant genre."""
    _follow_up(kit, "not_like", out)


def _follow_up(kit: Toolkit, kind: str, out: Draft) -> None:
    p = out.p
    ctx = kit.ctx
    query = dict(ctx.query) if ctx.query else None
    if query is None and ctx.focus in kit.books:
        query = {"mode": "similar", "book": ctx.focus, "genres": [], "exclude_genres": [], "seen": []}
    if query is None:
        out.text = p.t("more.nothing_yet")
        return
    if query.get("mode") == "choice":
        out.text = p.t("more.pick_first")
        return
    profile = kit.profile()
    query["seen"] = list(dict.fromkeys([*query.get("seen", []), *(i for i, _ in ctx.shown)]))
    if kind == "more":
        items = kit.run(query, out)
        if not items:
            out.text = p.t("more.exhausted")
            return
        out.text = w.recommendations(p, items, p.t("more.intro"))
    elif kind == "not_like":
        shown = [i for i, _ in ctx.shown if i in kit.books]
        # Rejecting a list is weaker than "I loved X": books the user liked stay liked.
        out.remember["disliked"] = [i for i in shown if i not in set(profile.liked)]
        steer = _dominant_genre([kit.books[i] for i in shown], query.get("genres", []))
        if steer:
            query["exclude_genres"] = [*query.get("exclude_genres", []), steer]
        items = kit.run(query, out)
        if steer:
            intro = p.t("reject.left_out_genre", genre=w.genre_label(steer, p.language))
        else:
            intro = p.t("reject.left_out")
        out.text = w.recommendations(p, items, intro)
    else:
        _shorter(kit, query, out)

def _shorter(kit: Toolkit, query: dict[str, Any], out: Draft) -> None:
    p = out.p
    ctx = kit.ctx
    reference = [kit.books[i] for i, _ in ctx.shown if i in kit.books]
    if not reference and ctx.focus in kit.books:
        reference = [kit.books[ctx.focus]]
    proxies = sorted(length_proxy(b) for b in reference)
    limit = proxies[len(proxies) // 2] if proxies else None  # shorter than the median shown
    pool = kit.run(query, out, k=kit.page * 6, record=False)
    shorter = [(b, r) for b, r in pool if limit is None or length_proxy(b) < limit] or pool
    shorter.sort(key=lambda item: length_proxy(item[0]))
    items = shorter[: kit.page]
    out.set_list(items, query)
    out.text = w.recommendations(p, items, p.t("shorter.intro"), p.t("shorter.note"))

def why(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'Why?' explains the list on screen; 'why the third?', 'why this one?', 'why Dune?' explain one book."""
    p = out.p
    ctx = kit.ctx
    rows = [(kit.books[i], r) for i, r in ctx.shown if i in kit.books]
    if not rows:
        out.text = p.t("why.nothing")
        return
    if ask.ordinal or ask.subject:
        row = pointed_at(rows, ask.ordinal, ask.subject, ctx.focus)
        if row is None:
            out.text = p.t("why.too_few") if ask.ordinal else p.t("why.not_in_list", phrase=ask.subject)
            return
        _why_one(kit, row, out)
        return
    lines = [f"- {title(b)}: {w.reason(r, p.language)}" for b, r in rows]
    head = p.t("why.head_many" if len(rows) > 1 else "why.head_one")
    head = " ".join(part for part in (_the_ask(kit, [b for b, _ in rows], p), head) if part)
    tail = _ranking_source(p, ctx.approach)
    out.text = "\n".join([head, *lines]) + (f"\n\n{tail}" if tail else "")


def _the_ask(kit: Toolkit, books: list[Book], p: w.Phrasebook) -> str:
    """A list is explained first by the ask that made it, as a librarian would: the author asked for
    when every book is theirs, the book the list started from, or the genres asked for."""
    query = kit.ctx.query or {}
    author = query.get("author", "")
    if query.get("mode") == "author" and author and all(author in b.authors for b in books):
        return p.t("why.list_author", author=author)
    seed = kit.books.get(query.get("book", ""))
    if query.get("mode") == "similar" and seed is not None:
        return p.t("why.list_similar", title=title(seed))
    if query.get("genres"):
        return p.t("why.list_genres", genres=w.labels(query["genres"], p.language))
    return ""


def pointed_at(rows: list[tuple[Book, str]], ordinal: int, subject: str, focus: str) -> tuple[Book, str] | None:
    """The row of the list a reader points at: a position, "it" (the book in focus, else the top
    pick) or a title on screen, typed loosely ("why the martian", "por que duna")."""
    if ordinal:
        position = ordinal - 1 if ordinal > 0 else len(rows) - 1
        return rows[position] if 0 <= position < len(rows) else None
    if subject == "it":
        return next((row for row in rows if row[0].id == focus), rows[0])
    wanted = lexicon.strip_article(fold(lexicon.pt_title_key(fold(subject)) or subject))
    best, best_score = None, 0.0
    for row in rows:
        name = lexicon.strip_article(fold(bare_title(row[0].title)))
        score = 100.0 if name == wanted else fuzz.ratio(name, wanted)
        if len(wanted) >= 4 and (name.startswith(wanted + " ") or wanted in name.split(" ")):
            score = max(score, 86.0)
        if score > best_score:
            best, best_score = row, score
    return best if best_score >= 80.0 else None


def _why_one(kit: Toolkit, row: tuple[Book, str], out: Draft) -> None:
    """One book's reason, plus what it shares with the ask: genres, author, series, rating."""
    p = out.p
    ctx = kit.ctx
    book, reason = row
    query = ctx.query or {}
    seed = kit.books.get(query.get("book", "")) or kit.books.get(ctx.focus if ctx.focus != book.id else "")
    shared: list[str] = []
    asked = [g for g in query.get("genres", []) if g.lower() in {x.lower() for x in book.genres}]
    if asked:
        shared.append(p.t("why.asked_genre", genres=w.labels(asked, p.language)))
    if seed is not None and seed.id != book.id:
        common = [g for g in book.genres if g in seed.genres and g not in w.GENERIC_GENRES][:3]
        if common:
            shared.append(p.t("why.shares", genres=w.labels(common, p.language), title=title(seed)))
        same_author = [a for a in book.authors if a in seed.authors]
        if same_author:
            shared.append(p.t("why.same_author", author=same_author[0], title=title(seed)))
        if book.series_name and book.series_name == seed.series_name:
            shared.append(p.t("why.same_series", series=book.series_name))
    if query.get("mode") == "author" and query.get("author") in book.authors:
        shared.append(p.t("why.asked_author", author=query["author"]))
    excluded = [g for g in query.get("exclude_genres", [])]
    if excluded:
        shared.append(p.t("why.excluded", genres=w.labels(excluded, p.language)))
    if book.avg_rating:
        rated = p.t("why.rated", standing=w.standing(book, p.language))
        if query.get("sort") in ("rating", "popular"):
            rated += p.t(f"why.asked_{query['sort']}")
        shared.append(rated)
    lines = [p.t("why.one", title=title(book), reason=w.reason(reason, p.language))]
    if shared:
        lines.append(p.t("why.in_common"))
        lines.extend(f"- {item}" for item in shared)
    tail = _ranking_source(p, ctx.approach)
    out.text = "\n".join(lines) + (f"\n\n{tail}" if tail else "")
    out.cards = [(book, w.reason(reason, p.language))]
    out.focus = book.id


def _ranking_source(p: w.Phrasebook, approach: str) -> str:
    return p.t(f"why.source_{approach}") if approach in ("finetuned", "baseline") else ""


def _dominant_genre(books: list[Book], keep: list[str]) -> str:
    """The specific genre most of the rejected books share, unless the user asked for it."""
    kept = {g.lower() for g in keep}
    counts = Counter(g for b in books for g in b.genres if g not in w.GENERIC_GENRES and g.lower() not in kept)
    if not counts:
        return ""
    genre, n = counts.most_common(1)[0]
    return genre if n >= max(2, len(books) // 2) else ""
