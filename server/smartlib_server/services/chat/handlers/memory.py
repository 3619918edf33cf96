"""What the reader tells the agent about themselves: "I love fantasy, I hate romance", "I loved
Dune", "what do you know about me?", "forget what I like". Stated tastes are kept for the
session, and across sessions with a user_id; they steer later lists (see Toolkit.run).
"""
from __future__ import annotations

from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.handlers.authors import list_author
from smartlib_server.services.chat.handlers.books import dislike_book, like_book, target
from smartlib_server.services.chat.handlers.discover import taste_lists
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title


def taste_like(kit: Toolkit, ask: Request, out: Draft) -> None:
    """A liked book ("I loved Dune") or liked genres ("I love fantasy, but not romance")."""
    if ask.likes or ask.dislikes:
        state(kit, ask, out)
    elif not author_taste(kit, ask, out, liked=True):
        like_book(kit, ask, out)


def taste_dislike(kit: Toolkit, ask: Request, out: Draft) -> None:
    """A disliked book ("I hated Twilight") or disliked genres ("romance bores me")."""
    if ask.likes or ask.dislikes:
        state(kit, ask, out)
    elif not author_taste(kit, ask, out, liked=False):
        dislike_book(kit, ask, out)


def author_taste(kit: Toolkit, ask: Request, out: Draft, liked: bool) -> bool:
    """'My favourite author is Agatha Christie', 'can't stand Stephen King': the author is the
    taste, kept as such (not as one of their books), so a later "what do you know about me?"
    names them and vague asks are steered by them. False when the ask names no author."""
    if ask.ordinal or not ask.subject or (ask.subject == "it" and kit.ctx.focus):
        return False
    found = target(kit, ask, out)
    if found is None or found.kind != "author":
        return False
    p = out.p
    key = "liked_authors" if liked else "disliked_authors"
    out.remember[key] = [found.name]
    setattr(out, key, [found.name])
    where = " " + p.t("taste.remembered") if kit.turn.user_id else ""
    if not liked:
        out.text = p.t("taste.disliked_author", author=found.name) + where
        return True
    list_author(kit, found, Request("author", subject=found.name, exclude=ask.exclude, sort=ask.sort), out)
    out.text = p.t("taste.liked_author", author=found.name) + where + " " + out.text
    return True


def state(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'I love fantasy and I hate romance': remember it, say so, and show what fits."""
    p = out.p
    likes, dislikes = taste_lists(list(ask.likes), list(ask.dislikes))  # a genre read both ways is kept neither way
    out.remember["liked_genres"] = likes
    out.remember["disliked_genres"] = dislikes
    out.likes, out.dislikes = likes, dislikes
    said = []
    if likes:
        said.append(p.t("because.you_like", genres=w.labels(likes, p.language)))
    if dislikes:
        said.append(p.t("because.you_dislike", genres=w.labels(dislikes, p.language)))
    where = " " + p.t("taste.remembered") if kit.turn.user_id else ""
    head = p.t("taste.noted", said=w.join(said, p.language)) + where
    if not likes:
        out.text = head + " " + p.t("taste.only_dislikes")
        return
    query = {"mode": "text", "text": " ".join(ask.likes), "genres": list(ask.likes),
             "exclude_genres": list(ask.dislikes), "seen": []}
    items = kit.run(query, out)
    out.text = w.recommendations(p, items, head + " " + p.t("taste.to_start"))


def memory_show(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'What do you know about me?': everything remembered, and how to erase it."""
    p = out.p
    tastes = kit.tastes()
    books = kit.books
    lines = []
    if tastes.liked_genres:
        lines.append(p.t("memory.you_like", genres=w.labels(tastes.liked_genres, p.language)))
    if tastes.disliked_genres:
        lines.append(p.t("memory.you_dislike", genres=w.labels(tastes.disliked_genres, p.language)))
    for key, names in (("memory.liked_authors", tastes.liked_authors), ("memory.disliked_authors", tastes.disliked_authors)):
        if names:
            lines.append(p.t(key, authors=w.join(list(names[:5]), p.language)))
    asked = [i for i in tastes.mentioned_books if i not in tastes.liked_books]
    for key, ids in (("memory.liked_books", tastes.liked_books), ("memory.disliked_books", tastes.disliked_books),
                     ("memory.asked_books", asked)):
        titles = [title(books[i]) for i in ids[:5] if i in books]
        if titles:
            lines.append(p.t(key, titles=w.join(titles, p.language)))
    if tastes.mentioned_genres and not tastes.liked_genres:
        lines.append(p.t("memory.talked_genres", genres=w.labels(tastes.mentioned_genres[:3], p.language)))
    scope = "" if kit.turn.user_id else " " + p.t("memory.anonymous")
    if not lines:
        out.text = p.t("memory.nothing") + scope
        return
    out.text = "\n".join([p.t("memory.head"), *lines]) + "\n\n" + p.t("memory.how_to_forget") + scope


def memory_forget(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'Forget what I like': the erase runs when the turn is delivered (see ChatAgent.commit).
    Genres named ("forget the sci-fi thing") are forgotten alone; the rest of the tastes stay."""
    if ask.genres:
        out.forget_genres = [g.lower() for g in ask.genres]
        out.text = out.p.t("memory.forgot_genres", genres=w.labels(out.forget_genres, out.p.language))
        return
    out.forget = True
    out.text = out.p.t("memory.forgotten")
