"""Follow-ups on the list on screen: "more", "not like that", "something shorter", "why?",
and narrowing it ("no romance", "best rated first")."""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

from smartlib_server.domain import Book
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.intents import Intent
from smartlib_server.services.chat.session import Context, Draft, TurnInput
from smartlib_server.services.chat.wording import title

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

def why(agent: "ChatAgent", ordinal: int, ctx: Context, out: Draft) -> None:
    p = out.p
    rows = [(agent.books[i], r) for i, r in ctx.shown if i in agent.books]
    if not rows:
        out.text = p.say("I haven't suggested anything yet, so there's nothing to explain.",
                         "Ainda não sugeri nada, então não há o que explicar.")
        return
    if ordinal:
        position = ordinal - 1 if ordinal > 0 else len(rows) - 1
        rows = rows[position: position + 1] if 0 <= position < len(rows) else []
        if not rows:
            out.text = p.say("That list had fewer books than that.", "Aquela lista tinha menos livros.")
            return
    lines = [f"- {title(b)}: {w.reason(r, p.language)}" for b, r in rows]
    how = {
        "finetuned": p.say("the fine-tuned recommender (trained on this catalog)", "recomendador ajustado (treinado neste catálogo)"),
        "baseline": p.say("the baseline recommender (sentence embeddings of title, genres and description)",
                          "recomendador base (embeddings de título, gêneros e descrição)"),
    }.get(ctx.approach, "")
    head = p.say("Here's why I picked them:", "Veja por que escolhi:") if len(rows) > 1 else p.say("Here's why:", "O motivo:")
    tail = p.say(f"The ranking came from {how}.", f"A ordem veio do {how}.") if how else ""
    out.text = "\n".join([head, *lines]) + (f"\n\n{tail}" if tail else "")


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
