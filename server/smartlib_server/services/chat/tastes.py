"""A reader's tastes: genres and books liked and disliked, from two places: the user's profile in
conversation memory (with a user_id) and what this session's earlier turns stated (so an
anonymous reader is heard within a session).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from smartlib_server.adapters.memory.contract import ConversationMemory
from smartlib_server.domain.profiles import PROFILE_LISTS, UserProfile
from smartlib_server.services.chat.session import Context


@dataclasses.dataclass(frozen=True)
class Tastes:
    liked_genres: tuple[str, ...] = ()  # lower-cased catalog genre names, most recent first
    disliked_genres: tuple[str, ...] = ()
    liked_books: tuple[str, ...] = ()  # book ids
    disliked_books: tuple[str, ...] = ()
    mentioned_genres: tuple[str, ...] = ()
    mentioned_books: tuple[str, ...] = ()  # books asked about, compared or named as an author's best
    liked_authors: tuple[str, ...] = ()  # catalog author names, most recent first
    disliked_authors: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.liked_genres or self.disliked_genres or self.liked_books or self.disliked_books
                    or self.liked_authors or self.disliked_authors)


def combine(profile: UserProfile, ctx: Context) -> Tastes:
    """The profile plus what this session stated; the session's newer word wins a conflict."""
    liked = [*ctx.likes, *(g for g in profile.liked_genres if g not in ctx.dislikes)]
    disliked = [*ctx.dislikes, *(g for g in profile.disliked_genres if g not in ctx.likes)]
    authors = [*ctx.liked_authors, *(a for a in profile.liked_authors if a not in ctx.disliked_authors)]
    shunned = [*ctx.disliked_authors, *(a for a in profile.disliked_authors if a not in ctx.liked_authors)]
    return Tastes(
        tuple(dict.fromkeys(liked)), tuple(dict.fromkeys(disliked)),
        profile.liked, profile.disliked, profile.mentioned_genres, profile.mentioned_books,
        tuple(dict.fromkeys(authors)), tuple(dict.fromkeys(shunned)),
    )


def forget_genres(memory: ConversationMemory, user_id: str, genres: tuple[str, ...]) -> None:
    """Erases what a user said about some genres and keeps the rest of their profile: the memory
    has no per-item delete, so the profile is written again without them, oldest first so that
    each list keeps its order (most recent first)."""
    profile = memory.profile(user_id)
    gone = {g.lower() for g in genres}
    kept = {name: [x for x in getattr(profile, name) if not (name.endswith("genres") and x in gone)] for name in PROFILE_LISTS}
    if kept == {name: list(getattr(profile, name)) for name in PROFILE_LISTS}:
        return
    memory.forget(user_id)
    memory.remember(user_id, **{name: list(reversed(items)) for name, items in kept.items()})


def keep_out(query: dict[str, Any], tastes: Tastes, seed_genres: tuple[str, ...] = ()) -> list[str]:
    """Genres to leave out of a list: those asked to exclude plus the disliked ones, unless the
    ask names them (or the book it starts from has them)."""
    asked = {g.lower() for g in query.get("genres", [])} | {g.lower() for g in seed_genres}
    excluded = [g.lower() for g in query.get("exclude_genres", [])]
    return list(dict.fromkeys([*excluded, *(g for g in tastes.disliked_genres if g not in asked)]))
