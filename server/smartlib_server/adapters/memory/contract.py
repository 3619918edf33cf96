"""The ConversationMemory contract both backends honour, and the input checks they share."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from smartlib_server.domain.profiles import PROFILE_LISTS, UserProfile


@dataclasses.dataclass(frozen=True)
class MemoryLimits:
    max_turns: int = 50  # turns kept per session, newest win
    max_session_bytes: int = 64 * 1024  # encoded turns kept per session, newest win
    session_ttl_s: float = 24 * 3600  # a session is forgotten this long after its last turn
    max_profile_items: int = 200  # per list (liked, disliked, mentioned books, mentioned genres)
    profile_ttl_s: float = 180 * 24 * 3600  # a profile is forgotten this long after its last update

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"MemoryLimits.{field.name} must be positive")


DEFAULT_LIMITS = MemoryLimits()


class ConversationMemory(Protocol):
    backend: str  # "memory" or "redis", for metrics and logs

    def append_turn(self, session_id: str, turn: Mapping[str, Any]) -> None:
        """Adds a turn (a JSON-serialisable mapping) to a session and renews the session's TTL.

        The oldest turns are dropped beyond `max_turns` or `max_session_bytes`.

        Raises:
            ValueError: the id is empty, the turn is not JSON-serialisable, or it alone is
                larger than `max_session_bytes`.
        """
        ...

    def recent_turns(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` newest turns of a session, oldest first; [] for an unknown session."""
        ...

    def remember(
        self,
        user_id: str,
        *,
        liked: Iterable[str] = (),
        disliked: Iterable[str] = (),
        mentioned_books: Iterable[str] = (),
        mentioned_genres: Iterable[str] = (),
        liked_genres: Iterable[str] = (),
        disliked_genres: Iterable[str] = (),
        liked_authors: Iterable[str] = (),
        disliked_authors: Iterable[str] = (),
    ) -> None:
        """Records what a user showed; later items of an argument count as more recent.

        Liking a book, genre or author removes it from disliked and the other way round. Every list keeps its
        `max_profile_items` most recent entries; the profile's TTL is renewed.

        Raises:
            ValueError: the id is empty, an item is not a string of at most MAX_ITEM_CHARS,
                or one book, genre or author is both liked and disliked in this call.
        """
        ...

    def profile(self, user_id: str) -> UserProfile:
        """The user's profile; an empty one for an unknown user."""
        ...

    def forget(self, user_id: str) -> None:
        """Erases everything remembered about a user across sessions (their profile).

        Raises:
            ValueError: the id is empty.
        """
        ...

    def link_session(self, user_id: str, session_id: str) -> None:
        """Records that a session belongs to a user, so that erase_user finds its turns.

        Raises:
            ValueError: an id is empty.
        """
        ...

    def erase_user(self, digest: str) -> ErasedMemory:
        """Erases the user whose `user_digest` this is: profile and linked sessions. Unlike the
        other writes it does not fail open: an erasure must be known to have happened.

        Raises:
            MemoryUnavailable: the backend could not be reached; nothing can be assumed erased.
        """
        ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class ErasedMemory:
    """What erase_user removed."""

    sessions: int = 0  # chat sessions (their turns)
    taste_entries: int = 0  # items across the profile's lists (liked, disliked, mentioned ...)


def user_digest(user_id: str) -> str:
    """The hashed user id both backends key users by; an erasure names a user by it."""
    check_id("user_id", user_id)
    return hash_id(user_id)


# The checks and clean-up both backends apply before storing anything, so they refuse alike.
MAX_ITEM_CHARS = 256  # book ids are at most 128; this keeps a profile's size bounded
GENRE_LISTS = frozenset({"mentioned_genres", "liked_genres", "disliked_genres"})
PAIRS = (("liked", "disliked"), ("liked_genres", "disliked_genres"), ("liked_authors", "disliked_authors"))
OPPOSITE = {**{a: b for a, b in PAIRS}, **{b: a for a, b in PAIRS}}


@dataclasses.dataclass(frozen=True)
class Update:
    """One `remember` call, cleaned: per list, items oldest first, no duplicates."""

    items: Mapping[str, tuple[str, ...]]

    @property
    def empty(self) -> bool:
        return not any(self.items.values())


def prepare_update(user_id: str, **lists: Iterable[str]) -> Update:
    check_id("user_id", user_id)
    unknown = set(lists) - set(PROFILE_LISTS)
    if unknown:
        raise TypeError(f"remember() got unknown list(s): {', '.join(sorted(unknown))}")
    items = {}
    for name in PROFILE_LISTS:
        values = _strings(name, lists.get(name, ()))
        if name in GENRE_LISTS:  # genres compare case- and space-insensitively
            items[name] = _dedupe(" ".join(g.split()).lower() for g in values)
        else:
            items[name] = _dedupe(b.strip() for b in values)
    for a, b in PAIRS:
        both = set(items[a]) & set(items[b])
        if both:
            raise ValueError(f"item(s) both in {a} and {b} in one call: {', '.join(sorted(both))}")
    return Update(items)


def _strings(name: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a collection of strings, not one string")
    values = list(values)
    if not all(isinstance(v, str) and len(v) <= MAX_ITEM_CHARS for v in values):
        raise ValueError(f"{name} must hold strings of at most {MAX_ITEM_CHARS} characters")
    return values


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    # dict keeps the last position of a repeated item, which is its most recent mention
    seen: dict[str, None] = {}
    for v in values:
        if v:
            seen.pop(v, None)
            seen[v] = None
    return tuple(seen)


def encode_turn(turn: Mapping[str, Any], limits: MemoryLimits) -> bytes:
    if not isinstance(turn, Mapping):
        raise ValueError("a turn must be a mapping")
    try:
        data = json.dumps(turn, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a turn must be JSON-serialisable: {exc}") from None
    if len(data) > limits.max_session_bytes:
        raise ValueError(f"turn is {len(data)} bytes; a session holds at most {limits.max_session_bytes}")
    return data


def check_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


def check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError("limit must be non-negative")


class MemoryUnavailable(Exception):
    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"conversation memory unavailable ({kind}){': ' + detail if detail else ''}")
        self.kind = kind


def hash_id(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]
