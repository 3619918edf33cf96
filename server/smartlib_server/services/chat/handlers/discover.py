"""Finding books across the catalog: by genre, mood or description ("recommend dark fantasy"),
the best rated, an author's books, and vague asks ("surprise me") steered by the reader's
tastes. Text the catalog cannot read gets an honest answer instead of random books.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from smartlib_server.services.chat import asides, fallback, lexicon, wording as w
from smartlib_server.services.chat.handlers import choices
from smartlib_server.services.chat.handlers.authors import ask_which, list_author, resolve_author
from smartlib_server.services.chat.handlers.books import act
from smartlib_server.services.chat.handlers.series import series_answer
from smartlib_server.services.chat.link_tables import static_tables
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import Resolution
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title


def taste_lists(likes: list[str], dislikes: list[str]) -> tuple[list[str], list[str]]:
    """The genres to remember as liked and disliked. A genre read as both in one message is a
    reading we cannot trust either way, so neither list keeps it (the memory refuses such a
    pair, and the reader's other tastes in the message should still be kept)."""
    liked, disliked = [g.lower() for g in likes], [g.lower() for g in dislikes]
    both = set(liked) & set(disliked)
    return [g for g in liked if g not in both], [g for g in disliked if g not in both]


def recommend(kit: Toolkit, ask: Request, out: Draft) -> None:
    """Books for genres, a mood or a description; a topic that is an author's name lists their books."""
    p = out.p
    if ask.likes or ask.dislikes:  # "I love mysteries, what should I read?"
        liked, disliked = taste_lists(ask.likes, ask.dislikes)
        out.remember["liked_genres"], out.remember["disliked_genres"] = liked, disliked
        out.likes, out.dislikes = list(liked), list(disliked)
    genres = [g for g in ask.genres if kit.has_genre(g)]
    topic = ask.query.strip()
    if ask.sort:  # "the highest rated sci-fi you've got", "what do readers score highest": the order is the ask
        topic = descriptive(kit, topic)
    elif not _topical(topic):  # "suggest a few for me", "tô afim de um suspense": no topic beside the genres, if any
        topic = ""
    if not genres and not topic:
        if ask.genres:  # a genre the catalog lacks: say so rather than guess
            out.text = p.t("recommend.no_genre", genres=w.labels(ask.genres, p.language))
            return
        vague(kit, ask, out)
        return
    # Genre and mood asks go to the text search, whose ranking is quality-aware for broad asks;
    # "best rated" / "most read" without topic words order the genre by catalog ratings instead.
    if topic and not genres and not ask.likes:
        found = kit.resolver.author(topic, loose=False)
        # "has stephen king written anything good", "o que vcs tem do george orwell": a full name
        # among words that only ask for someone's books
        name = " ".join(word for word in topic.split() if word not in lexicon.AUTHOR_ASK_WORDS)
        if found.kind != "author" and name != topic and len(name.split()) >= 2:
            found, topic = kit.resolver.author(name, loose=False), name
        if found.kind == "author":  # "give me some Neil Gaiman": the whole topic is an author
            books_by(kit, Request("author", subject=topic, exclude=ask.exclude, sort=ask.sort), out)
            return
    mode = "ranked" if ask.sort and not topic else "text"
    query = {"mode": mode, "text": " ".join([*genres, topic]).strip(), "genres": genres,
             "exclude_genres": list(ask.exclude), "seen": _books_of(kit, ask.shunned), "sort": ask.sort, "every": True}
    items = kit.run(query, out, surprise=ask.surprise)
    intro = w.intro_genre(p, genres, topic, len(items), ask.sort, ask.exclude)
    if ask.shunned:
        intro = p.t("recommend.none_by", authors=w.join(list(ask.shunned), p.language)) + " " + intro
    out.text = w.recommendations(p, items, intro)
    out.remember["mentioned_genres"] = [g.lower() for g in genres]


def _books_of(kit: Toolkit, authors: tuple[str, ...]) -> list[str]:
    return [b.id for name in authors for b in kit.resolver.author(name, loose=False).books]


def descriptive(kit: Toolkit, topic: str) -> str:
    """The words of a topic that describe books: not everyday words, and read by the catalog."""
    common = static_tables().common
    words = " ".join(word for word in topic.split() if word not in common)
    return words if words and kit.readable(words) else ""


def _topical(topic: str) -> bool:
    """Whether a topic holds a word other than function words and the words of any vague ask."""
    return any(not asides.everyday(word) for word in topic.split())



def best_rated(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'The best rated fantasy': a recommendation ordered by ratings."""
    recommend(kit, ask if ask.sort else dataclasses.replace(ask, sort="rating"), out)


def books_by(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'Books by Stephen King'; a series named instead lists it in order; a name the catalog
    does not know is read as a description."""
    found = resolve_author(kit, ask.subject)
    if found.kind == "series":
        series_answer(found.name, list(found.books), out)
    elif found.kind == "author":
        list_author(kit, found, ask, out)
    elif found.kind == "ambiguous":
        ask_which(found, ask.subject, out)
    else:
        free_text(kit, ask, out)


def nonsense(kit: Toolkit, ask: Request, out: Draft) -> None:
    """Not understood: a bare title still gets its answer, a readable description a search, and
    anything else an honest 'I didn't understand' with example asks."""
    found = kit.resolver.resolve(ask.subject, ask.by) if ask.subject else Resolution("none")
    if found.kind == "book" and kit.ctx.pending:
        choices.resume(kit, found.book, out)
    elif found.kind != "none":
        act(kit, "about", found, ask.subject, out)
    else:
        free_text(kit, ask, out)


def free_text(kit: Toolkit, ask: Request, out: Draft) -> None:
    """A description the catalog can read goes to the text search; anything else gets an
    honest "I didn't understand" with example asks, and no cards."""
    text = ask.query or ask.subject
    if text and kit.readable(text):
        recommend(kit, Request("recommend", query=text, exclude=ask.exclude, sort=ask.sort), out)
    else:
        out.text = fallback.not_understood(out.p)
        out.fallback = True


def off_topic(kit: Toolkit, ask: Request, out: Draft) -> None:
    out.text = fallback.off_topic(out.p)
    out.fallback = True


def vague(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'Recommend me something', 'surprise me': steered by what the reader likes, and saying so.

    Liked genres give the shelves, and a liked book (or, failing one, a book the reader asked
    about before) gives readers' pairings; with both, the list alternates between them. With
    neither, genres talked about stand in, and only a reader we know nothing of gets the
    catalog's best-loved books.
    """
    p = out.p
    tastes = kit.tastes()
    books = kit.books
    exclude = [*ask.exclude, *tastes.disliked_genres]
    sort = ask.sort
    liked_book = next((books[i] for i in tastes.liked_books if i in books), None)
    seed = liked_book or next((books[i] for i in tastes.mentioned_books if i in books and i not in tastes.disliked_books), None)
    genres = list(tastes.liked_genres[:2])
    shelves = genres or ([] if seed else list(tastes.mentioned_genres[:2]))  # genres talked about stand in
    queries, because = [], []
    if shelves:
        queries.append({"mode": "ranked" if sort else "text", "text": " ".join(shelves), "genres": shelves,
                        "exclude_genres": exclude, "seen": [], "sort": sort})
        because.append(p.t("because.you_like" if genres else "because.we_talked", genres=w.labels(shelves, p.language)))
    for name in tastes.liked_authors[:1]:  # "my favourite author is ...": their books, best known first
        queries.append({"mode": "author", "author": name, "genres": [], "exclude_genres": exclude, "seen": [], "sort": sort})
        because.append(p.t("because.you_like_author", author=name))
    if seed is not None:
        # Filtered to the liked genres, if any, so "I love fantasy" keeps every pick fantasy.
        queries.append({"mode": "similar", "book": seed.id, "genres": genres, "exclude_genres": exclude, "seen": [seed.id], "sort": sort})
        because.append(p.t("because.you_liked" if seed is liked_book else "because.you_asked", title=title(seed)))
    if queries:
        intro = p.t("vague.since", because=w.join(because, p.language))
    else:
        queries.append({"mode": "popular", "genres": [], "exclude_genres": exclude, "seen": [], "sort": sort})
        intro = p.t("vague.best_loved")
        if sort:
            intro = p.t("vague.best_rated" if sort == "rating" else "vague.most_read")
    if tastes.disliked_genres:
        intro += p.t("vague.leaving_out", genres=w.labels(tastes.disliked_genres, p.language))
    intro += ":"
    lists = [kit.run(query, out, surprise=ask.surprise, record=False) for query in queries]
    items = _alternate(lists, kit.page)
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

