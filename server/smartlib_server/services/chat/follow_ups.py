"""Follow-ups on the list on screen: "more", "not like that", "something shorter", "why?",
and narrowing it ("no romance", "best rated first")."""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from smartlib_core.domain import Book
from smartlib_server.services.chat import lexicon
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.intents import Intent
from smartlib_server.services.chat.session import Context, Draft, TurnInput
from smartlib_server.services.chat.wording import title
from smartlib_core.text import bare_title, fold

if TYPE_CHECKING:
    from smartlib_server.services.chat.agent import ChatAgent

SHORT_GENRES = frozenset({"Picture Books", "Short Stories", "Novella", "Poetry", "Plays", "Childrens", "Comics", "Graphic Novels", "Essays"})


def refine(agent: "ChatAgent", intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
    """'No romance', 'best rated first': the last list's ask again, narrowed or re-ordered."""
    p = out.p
    if not ctx.query or ctx.query.get("mode") == "choice":
        agent.recommend_genres(dataclasses.replace(intent, kind="recommend"), ctx, turn, out)
        return
    query = dict(ctx.query)
    query["exclude_genres"] = list(dict.fromkeys([*query.get("exclude_genres", []), *intent.exclude]))
    query["sort"] = intent.sort or query.get("sort", "")
    query["seen"] = []
    if query["sort"] and query["mode"] == "text" and not query.get("book"):
        query["mode"] = "ranked" if query.get("genres") else query["mode"]
    items = agent.run(query, turn, out)
    changes = []
    if intent.exclude:
        changes.append(p.say(f"without {w.join([w.genre_label(g, 'en') for g in intent.exclude], 'en')}",
                             f"sem {w.join([w.genre_label(g, 'pt') for g in intent.exclude], 'pt')}"))
    if intent.sort:
        changes.append(p.say("best rated first" if intent.sort == "rating" else "most read first",
                             "dos mais bem avaliados para os menos" if intent.sort == "rating" else "dos mais lidos para os menos"))
    out.text = w.recommendations(p, items, p.say(f"Same ask, {' and '.join(changes)}:", f"O mesmo pedido, {' e '.join(changes)}:"))

def follow_up(agent: "ChatAgent", kind: str, ctx: Context, turn: TurnInput, out: Draft) -> None:
    p = out.p
    query = dict(ctx.query) if ctx.query else None
    if query is None and ctx.focus in agent.books:
        query = {"mode": "similar", "book": ctx.focus, "genres": [], "exclude_genres": [], "seen": []}
    if query is None:
        out.text = p.say("Happy to! First tell me what you like: a book, a genre or a mood.",
                         "Claro! Primeiro me diga do que você gosta: um livro, um gênero ou um clima.")
        return
    if query.get("mode") == "choice":
        out.text = p.say("Pick one of the books I listed first: say \"the first one\" or the author's name.",
                         "Escolha primeiro um dos livros que listei: diga \"o primeiro\" ou o nome do autor.")
        return
    profile = agent.profile(turn)
    query["seen"] = list(dict.fromkeys([*query.get("seen", []), *(i for i, _ in ctx.shown)]))
    if kind == "more":
        items = agent.run(query, turn, out)
        if not items:
            out.text = p.say("That's everything the catalog has for that ask. Try another author, genre or mood.",
                             "Isso é tudo o que o catálogo tem para esse pedido. Tente outro autor, gênero ou clima.")
            return
        out.text = w.recommendations(p, items, p.pick(["Here are more:", "A few more:"], ["Aqui vão mais:", "Mais algumas:"]))
    elif kind == "not_like":
        shown = [i for i, _ in ctx.shown if i in agent.books]
        # Rejecting a list is weaker than "I loved X": books the user liked stay liked.
        out.remember["disliked"] = [i for i in shown if i not in set(profile.liked)]
        steer = _dominant_genre([agent.books[i] for i in shown], query.get("genres", []))
        if steer:
            query["exclude_genres"] = [*query.get("exclude_genres", []), steer]
        items = agent.run(query, turn, out)
        left_out = p.say(f" I left out {w.genre_label(steer, 'en')} and", f" Deixei de fora {w.genre_label(steer, 'pt')} e") if steer else ""
        intro = p.say(f"Got it, something different.{left_out or ' I left out'} the ones I already showed:",
                      f"Entendi, algo diferente.{left_out or ' Deixei de fora'} os que já mostrei:")
        out.text = w.recommendations(p, items, intro)
    else:
        _shorter(agent, query, ctx, turn, out)

def _shorter(agent: "ChatAgent", query: dict[str, Any], ctx: Context, turn: TurnInput, out: Draft) -> None:
    p = out.p
    reference = [agent.books[i] for i, _ in ctx.shown if i in agent.books]
    if not reference and ctx.focus in agent.books:
        reference = [agent.books[ctx.focus]]
    proxies = sorted(length_proxy(b) for b in reference)
    limit = proxies[len(proxies) // 2] if proxies else None  # shorter than the median shown
    pool = agent.run(query, turn, out, k=agent.page * 6, record=False)
    shorter = [(b, r) for b, r in pool if limit is None or length_proxy(b) < limit] or pool
    shorter.sort(key=lambda item: length_proxy(item[0]))
    items = shorter[: agent.page]
    out.set_list(items, query)
    note = p.say(
        "The catalog has no page counts, so I judged length by genre labels that usually mean a quicker read "
        "(picture books, short stories, poetry, plays, comics, children's) and then by how long the catalog description is.",
        "O catálogo não tem número de páginas, então estimei o tamanho pelos gêneros que costumam indicar leitura mais "
        "rápida (livros ilustrados, contos, poesia, teatro, quadrinhos, infantil) e depois pelo tamanho da descrição no catálogo.",
    )
    intro = p.say("Shorter picks along the same lines:", "Opções mais curtas na mesma linha:")
    out.text = w.recommendations(p, items, intro, note)

def why(agent: "ChatAgent", intent: Intent, ctx: Context, out: Draft) -> None:
    """'Why?' explains the list on screen; 'why the third?', 'why this one?', 'why Dune?' explain one book."""
    p = out.p
    rows = [(agent.books[i], r) for i, r in ctx.shown if i in agent.books]
    if not rows:
        out.text = p.say("I haven't suggested anything yet, so there's nothing to explain.",
                         "Ainda não sugeri nada, então não há o que explicar.")
        return
    if intent.ordinal or intent.subject:
        row = pointed_at(rows, intent.ordinal, intent.subject, ctx.focus)
        if row is None:
            out.text = (p.say("That list had fewer books than that.", "Aquela lista tinha menos livros.") if intent.ordinal else
                        p.say(f"\"{intent.subject}\" isn't in the list I showed. Say \"why the second one?\" or \"why?\" for all of them.",
                              f"\"{intent.subject}\" não está na lista que mostrei. Diga \"por que o segundo?\" ou \"por quê?\" para todos."))
            return
        _why_one(agent, row, ctx, out)
        return
    lines = [f"- {title(b)}: {w.reason(r, p.language)}" for b, r in rows]
    head = p.say("Here's why I picked them:", "Veja por que escolhi:") if len(rows) > 1 else p.say("Here's why:", "O motivo:")
    tail = _ranking_source(p, ctx.approach)
    out.text = "\n".join([head, *lines]) + (f"\n\n{tail}" if tail else "")


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


def _why_one(agent: "ChatAgent", row: tuple[Book, str], ctx: Context, out: Draft) -> None:
    """One book's reason, plus what it shares with the ask: genres, author, series, rating."""
    p = out.p
    book, reason = row
    query = ctx.query or {}
    seed = agent.books.get(query.get("book", "")) or agent.books.get(ctx.focus if ctx.focus != book.id else "")
    shared: list[str] = []
    asked = [g for g in query.get("genres", []) if g.lower() in {x.lower() for x in book.genres}]
    if asked:
        shared.append(p.say(f"it is {w.join([w.genre_label(g, 'en') for g in asked], 'en')}, the genre you asked for",
                            f"é de {w.join([w.genre_label(g, 'pt') for g in asked], 'pt')}, o gênero que você pediu"))
    if seed is not None and seed.id != book.id:
        common = [g for g in book.genres if g in seed.genres and g not in w.GENERIC_GENRES][:3]
        if common:
            shared.append(p.say(f"it shares {w.join([w.genre_label(g, 'en') for g in common], 'en')} with {title(seed)}",
                                f"tem em comum com {title(seed)}: {w.join([w.genre_label(g, 'pt') for g in common], 'pt')}"))
        same_author = [a for a in book.authors if a in seed.authors]
        if same_author:
            shared.append(p.say(f"it is by {same_author[0]}, like {title(seed)}", f"é de {same_author[0]}, como {title(seed)}"))
        if book.series_name and book.series_name == seed.series_name:
            shared.append(p.say(f"it is in the same series, {book.series_name}", f"é da mesma série, {book.series_name}"))
    if query.get("mode") == "author" and query.get("author") in book.authors:
        shared.append(p.say(f"it is by {query['author']}, the author you asked about", f"é de {query['author']}, o autor que você pediu"))
    excluded = [g for g in query.get("exclude_genres", [])]
    if excluded:
        shared.append(p.say(f"it has no {w.join([w.genre_label(g, 'en') for g in excluded], 'en')}, as you asked",
                            f"não é de {w.join([w.genre_label(g, 'pt') for g in excluded], 'pt')}, como você pediu"))
    if book.avg_rating:
        rating = f"{book.avg_rating:.2f}".replace(".", "," if p.language == "pt" else ".")
        readers = f"{book.num_ratings:,}".replace(",", "." if p.language == "pt" else ",") if book.num_ratings else ""
        rated = p.say(f"readers rate it {rating}★" + (f" ({readers} ratings)" if readers else ""),
                      f"os leitores dão {rating}★" + (f" ({readers} avaliações)" if readers else ""))
        if query.get("sort") == "rating":
            rated += p.say(", and you asked for the best rated", ", e você pediu os mais bem avaliados")
        elif query.get("sort") == "popular":
            rated += p.say(", and you asked for the most read", ", e você pediu os mais lidos")
        shared.append(rated)
    lines = [p.say(f"Why {title(book)}: {w.reason(reason, 'en')}.", f"Por que {title(book)}: {w.reason(reason, 'pt')}.")]
    if shared:
        lines.append(p.say("What it has in common with your ask:", "O que ele tem a ver com o seu pedido:"))
        lines.extend(f"- {item}" for item in shared)
    tail = _ranking_source(p, ctx.approach)
    out.text = "\n".join(lines) + (f"\n\n{tail}" if tail else "")
    out.cards = [(book, w.reason(reason, p.language))]
    out.focus = book.id


def _ranking_source(p: w.Phrasebook, approach: str) -> str:
    how = {
        "finetuned": p.say("the fine-tuned recommender (trained on this catalog)", "recomendador ajustado (treinado neste catálogo)"),
        "baseline": p.say("the baseline recommender (sentence embeddings of title, genres and description)",
                          "recomendador base (embeddings de título, gêneros e descrição)"),
    }.get(approach, "")
    return p.say(f"The ranking came from {how}.", f"A ordem veio do {how}.") if how else ""


def _dominant_genre(books: list[Book], keep: list[str]) -> str:
    """The specific genre most of the rejected books share, unless the user asked for it."""
    kept = {g.lower() for g in keep}
    counts = Counter(g for b in books for g in b.genres if g not in w.GENERIC_GENRES and g.lower() not in kept)
    if not counts:
        return ""
    genre, n = counts.most_common(1)[0]
    return genre if n >= max(2, len(books) // 2) else ""


def length_proxy(book: Book) -> tuple[int, int]:
    """Smaller means shorter. No page counts in the catalog: genre labels first, then description length."""
    return (0 if SHORT_GENRES & set(book.genres) else 1, len(book.description))
