"""A reader's tastes: stated ("I love fantasy, I hate romance"), remembered across sessions,
shown on request, erased on request, and used to steer vague asks ("surprise me").

Tastes come from two places: the user's profile in conversation memory (with a user_id) and
what this session's earlier turns stated (so an anonymous reader is heard within a session).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from smartlib_server.domain.profiles import UserProfile
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.intents import Intent
from smartlib_server.services.chat.lexicon import genre_label
from smartlib_server.services.chat.session import Context, Draft, TurnInput
from smartlib_server.services.chat.wording import title

if TYPE_CHECKING:
    from smartlib_server.services.chat.agent import ChatAgent


@dataclasses.dataclass(frozen=True)
class Tastes:
    liked_genres: tuple[str, ...] = ()  # lower-cased catalog genre names, most recent first
    disliked_genres: tuple[str, ...] = ()
    liked_books: tuple[str, ...] = ()  # book ids
    disliked_books: tuple[str, ...] = ()
    mentioned_genres: tuple[str, ...] = ()
    mentioned_books: tuple[str, ...] = ()  # books asked about, compared or named as an author's best

    @property
    def is_empty(self) -> bool:
        return not (self.liked_genres or self.disliked_genres or self.liked_books or self.disliked_books)


def combine(profile: UserProfile, ctx: Context) -> Tastes:
    """The profile plus what this session stated; the session's newer word wins a conflict."""
    liked = [*ctx.likes, *(g for g in profile.liked_genres if g not in ctx.dislikes)]
    disliked = [*ctx.dislikes, *(g for g in profile.disliked_genres if g not in ctx.likes)]
    return Tastes(
        tuple(dict.fromkeys(liked)), tuple(dict.fromkeys(disliked)),
        profile.liked, profile.disliked, profile.mentioned_genres, profile.mentioned_books,
    )


def state(agent: "ChatAgent", intent: Intent, turn: TurnInput, out: Draft) -> None:
    """'I love fantasy and I hate romance': remember it, say so, and show what fits."""
    p = out.p
    likes = [g.lower() for g in intent.likes]
    dislikes = [g.lower() for g in intent.dislikes]
    out.remember["liked_genres"] = likes
    out.remember["disliked_genres"] = dislikes
    out.likes, out.dislikes = likes, dislikes
    said = []
    if likes:
        said.append(p.say(f"you like {_labels(likes, 'en')}", f"você gosta de {_labels(likes, 'pt')}"))
    if dislikes:
        said.append(p.say(f"you don't like {_labels(dislikes, 'en')}", f"você não gosta de {_labels(dislikes, 'pt')}"))
    where = p.say(" I'll remember it next time too." if turn.user_id else "", " Vou lembrar disso nas próximas vezes também." if turn.user_id else "")
    head = p.say(f"Noted: {w.join(said, 'en')}.{where}", f"Anotado: {w.join(said, 'pt')}.{where}")
    if not likes:
        out.text = head + p.say(" Tell me a genre, a book or a mood and I'll keep those out.",
                                " Diga um gênero, um livro ou um clima e eu deixo esses de fora.")
        return
    query = {"mode": "text", "text": " ".join(intent.likes), "genres": list(intent.likes),
             "exclude_genres": list(intent.dislikes), "seen": []}
    items = agent.run(query, turn, out)
    out.text = w.recommendations(p, items, head + p.say(" A few to start with:", " Algumas para começar:"))


def vague(agent: "ChatAgent", intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
    """'Recommend me something', 'surprise me': steered by what the reader likes, and saying so.

    Liked genres give the shelves, and a liked book (or, failing one, a book the reader asked
    about before) gives readers' pairings; with both, the list alternates between them. With
    neither, genres talked about stand in, and only a reader we know nothing of gets the
    catalog's best-loved books.
    """
    p = out.p
    tastes = agent.tastes(turn, ctx)
    books = agent.books
    exclude = [*intent.exclude, *tastes.disliked_genres]
    sort = intent.sort
    liked_book = next((books[i] for i in tastes.liked_books if i in books), None)
    seed = liked_book or next((books[i] for i in tastes.mentioned_books if i in books and i not in tastes.disliked_books), None)
    genres = list(tastes.liked_genres[:2])
    shelves = genres or ([] if seed else list(tastes.mentioned_genres[:2]))  # genres talked about stand in
    queries, because = [], []
    if shelves:
        queries.append({"mode": "ranked" if sort else "text", "text": " ".join(shelves), "genres": shelves,
                        "exclude_genres": exclude, "seen": [], "sort": sort})
        because.append(p.say(f"you like {_labels(shelves, 'en')}", f"você gosta de {_labels(shelves, 'pt')}") if genres else
                       p.say(f"we talked about {_labels(shelves, 'en')}", f"falamos de {_labels(shelves, 'pt')}"))
    if seed is not None:
        # Filtered to the liked genres, if any, so "I love fantasy" keeps every pick fantasy.
        queries.append({"mode": "similar", "book": seed.id, "genres": genres, "exclude_genres": exclude, "seen": [seed.id], "sort": sort})
        because.append(p.say(f"you liked {title(seed)}", f"você gostou de {title(seed)}") if seed is liked_book else
                       p.say(f"you asked about {title(seed)}", f"você perguntou sobre {title(seed)}"))
    if queries:
        intro = p.say(f"Since {w.join(because, 'en')}, here are some picks", f"Como {w.join(because, 'pt')}, aqui vão algumas sugestões")
    else:
        queries.append({"mode": "popular", "genres": [], "exclude_genres": exclude, "seen": [], "sort": sort})
        intro = p.say("Here are some of the catalog's best-loved books (tell me a genre or a mood and I'll narrow it down)",
                      "Aqui vão alguns dos livros mais queridos do catálogo (diga um gênero ou clima e eu refino)")
        if sort:
            intro = p.say("The catalog's best rated books" if sort == "rating" else "The catalog's most read books",
                          "Os livros mais bem avaliados do catálogo" if sort == "rating" else "Os livros mais lidos do catálogo")
    if tastes.disliked_genres:
        intro += p.say(f", leaving out {_labels(tastes.disliked_genres, 'en')}, which you don't like",
                       f", deixando de fora {_labels(tastes.disliked_genres, 'pt')}, que você não curte")
    intro += ":"
    lists = [agent.run(query, turn, out, surprise=intent.surprise, record=False) for query in queries]
    items = _alternate(lists, agent.page)
    out.set_list(items, queries[0])
    out.text = w.recommendations(p, items, intro)


def _alternate(lists: list[list[tuple[Any, str]]], k: int) -> list[tuple[Any, str]]:
    """One pick from each list in turn, skipping books already taken, until k are taken."""
    taken: dict[str, tuple[Any, str]] = {}
    for position in range(max(map(len, lists), default=0)):
        for items in lists:
            if position < len(items) and len(taken) < k:
                taken.setdefault(items[position][0].id, items[position])
    return list(taken.values())


def show(agent: "ChatAgent", ctx: Context, turn: TurnInput, out: Draft) -> None:
    """'What do you know about me?': everything remembered, and how to erase it."""
    p = out.p
    tastes = agent.tastes(turn, ctx)
    books = agent.books
    lines = []
    if tastes.liked_genres:
        lines.append(p.say(f"- You like {_labels(tastes.liked_genres, 'en')}.", f"- Você gosta de {_labels(tastes.liked_genres, 'pt')}."))
    if tastes.disliked_genres:
        lines.append(p.say(f"- You don't like {_labels(tastes.disliked_genres, 'en')}.",
                           f"- Você não gosta de {_labels(tastes.disliked_genres, 'pt')}."))
    liked = [title(books[i]) for i in tastes.liked_books[:5] if i in books]
    if liked:
        lines.append(p.say(f"- Books you liked: {w.join(liked, 'en')}.", f"- Livros de que você gostou: {w.join(liked, 'pt')}."))
    disliked = [title(books[i]) for i in tastes.disliked_books[:5] if i in books]
    if disliked:
        lines.append(p.say(f"- Books you didn't like: {w.join(disliked, 'en')}.", f"- Livros de que você não gostou: {w.join(disliked, 'pt')}."))
    asked = [title(books[i]) for i in tastes.mentioned_books[:5] if i in books and i not in tastes.liked_books]
    if asked:
        lines.append(p.say(f"- Books you asked about: {w.join(asked, 'en')}.", f"- Livros sobre os quais você perguntou: {w.join(asked, 'pt')}."))
    if tastes.mentioned_genres and not tastes.liked_genres:
        lines.append(p.say(f"- Genres we talked about: {_labels(tastes.mentioned_genres[:3], 'en')}.",
                           f"- Gêneros de que falamos: {_labels(tastes.mentioned_genres[:3], 'pt')}."))
    scope = "" if turn.user_id else p.say(
        " You're not signed in (no user id), so this lasts only for this conversation.",
        " Você não está identificado (sem user id), então isso vale só para esta conversa.")
    if not lines:
        out.text = p.say("I don't know anything about your tastes yet. Tell me which genres you love and which you'd rather avoid.",
                         "Ainda não sei nada sobre seus gostos. Conte quais gêneros você adora e quais prefere evitar.") + scope
        return
    out.text = "\n".join([p.say("Here's what I know about you:", "Veja o que eu sei sobre você:"), *lines]) + "\n\n" + p.say(
        "Say \"forget what I like\" to erase it.", "Diga \"esqueça o que eu gosto\" para apagar.") + scope


def forget(turn: TurnInput, out: Draft) -> None:
    """'Forget what I like': the erase runs when the turn is delivered (see ChatAgent.commit)."""
    p = out.p
    out.forget = True
    out.text = p.say(
        "Done: I've forgotten your tastes and the books you liked or disliked. From now on I start fresh.",
        "Pronto: esqueci seus gostos e os livros de que você gostou ou não. A partir de agora começo do zero.",
    )


def keep_out(query: dict[str, Any], tastes: Tastes, seed_genres: tuple[str, ...] = ()) -> list[str]:
    """Genres to leave out of a list: those asked to exclude plus the disliked ones, unless the
    ask names them (or the book it starts from has them)."""
    asked = {g.lower() for g in query.get("genres", [])} | {g.lower() for g in seed_genres}
    excluded = [g.lower() for g in query.get("exclude_genres", [])]
    return list(dict.fromkeys([*excluded, *(g for g in tastes.disliked_genres if g not in asked)]))


def _labels(genres, language: str) -> str:
    return w.join([genre_label(g, language) for g in genres], language)
