"""What the chat remembers about a reader across sessions. The memory adapters store it and the
chat services read it, so it sits below both."""
from __future__ import annotations

import dataclasses

# The profile's lists, in the order the memory backends store them.
PROFILE_LISTS = ("liked", "disliked", "mentioned_books", "mentioned_genres", "liked_genres", "disliked_genres",
                 "liked_authors", "disliked_authors")


@dataclasses.dataclass(frozen=True)
class UserProfile:
    """What one user showed across sessions; every list is most recent first."""

    user_id: str
    liked: tuple[str, ...] = ()  # book ids
    disliked: tuple[str, ...] = ()  # book ids
    mentioned_books: tuple[str, ...] = ()  # book ids
    mentioned_genres: tuple[str, ...] = ()  # lower-cased genre names
    liked_genres: tuple[str, ...] = ()  # lower-cased genre names the user said they like
    disliked_genres: tuple[str, ...] = ()  # lower-cased genre names the user said they dislike
    liked_authors: tuple[str, ...] = ()  # catalog author names the user said they like ("my favourite author is ...")
    disliked_authors: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in PROFILE_LISTS)
